/**
 * For the getters of a suite fixture (the `use…` helpers): the fixture is
 * made while the suite is collected, its values only once its beforeAll ran,
 * so a read before that (or after a failed start) says so instead of handing
 * out undefined.
 */
export function suiteValue<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the suite's ${what} is not there (its beforeAll has not run, or failed)`);
  return value;
}
