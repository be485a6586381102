import { MemoryPresence } from '../../src/core/presence/memory-presence.js';
import { presenceConformance } from './conformance.js';

presenceConformance('memory', { create: async () => new MemoryPresence() });
