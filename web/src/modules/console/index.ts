/** Console: the admin's operator page (node figures, channels, connections, audit log). */
export { ConsolePage } from './console-page';
