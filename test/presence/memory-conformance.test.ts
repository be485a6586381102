import { MemoryPresence } from '../../src/presence/memory-presence.js';
import { presenceConformance } from './conformance.js';

presenceConformance('memory', { create: async () => new MemoryPresence() });
