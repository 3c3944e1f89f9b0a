/** The tests' seeded PRNG is the product's (services/platform/seeded-random.ts), so a failing randomised test can be repeated. */
export { seededRandom as prng } from '../../services/platform/seeded-random.ts';
