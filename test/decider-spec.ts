// given/when/then for deciders in unit tests: given past events, when a command, then the
// new events (or the refusal's code).
import type { Decider, DomainEvent } from '../domain/shared/decider';
import { DomainError, type DomainErrorCode } from '../domain/shared/errors';

export function deciderSpec<S, C, E extends DomainEvent>(decider: Decider<S, C, E>) {
  return (given: E[]) => ({
    when: (command: C) => {
      const decide = () =>
        decider.decide(
          command,
          given.reduce((s, e) => decider.evolve(s, e), decider.initialState()),
        );
      return {
        then: (expected: E[]) => expect(decide()).toEqual(expected),
        thenRefused: (code: DomainErrorCode) => {
          let error: unknown;
          try {
            decide();
          } catch (err) {
            error = err;
          }
          expect(error).toBeInstanceOf(DomainError);
          expect((error as DomainError).code).toBe(code);
        },
      };
    },
  });
}
