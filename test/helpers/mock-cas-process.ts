// Tests spawn mock CAS processes with the same code the lab uses; the child runs dist/ (`npm test` builds first).
export { spawnMockCasProcess as spawnMockCas, type MockCasProcess as SpawnedMockCas } from '../../src/lab/mock-process.js';
