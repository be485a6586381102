import { MemoryLayer } from '../../src/layer/memory-layer.js';
import { channelLayerConformance } from './conformance.js';

channelLayerConformance('memory', {
  create: async () => new MemoryLayer(),
  lose: async (layer) => {
    await layer.close();
    return new MemoryLayer();
  },
  ageWaitMs: 120,
});
