// A decider is an aggregate as pure functions: decide what happens, evolve the state from what
// happened. No I/O and no clock, so the same code runs in activities, tests and workflows.

export interface DomainEvent<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
}

export interface Decider<State, Command, Event extends DomainEvent> {
  /** The aggregate type stored in `domain_events.aggregate_type`. */
  aggregateType: string;
  /** Shape version of State in snapshots (default 1): bump it when State changes shape. */
  snapshotVersion?: number;
  initialState(): State;
  /** Returns the events a command produces; throws a DomainError when a rule refuses it. */
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
}

export function fold<State, Event extends DomainEvent>(
  decider: Pick<Decider<State, never, Event>, 'initialState' | 'evolve'>,
  events: readonly Event[],
  from: State = decider.initialState(),
): State {
  return events.reduce((state, event) => decider.evolve(state, event), from);
}

/** Compile-time exhaustiveness for `switch` over event or command types. */
export function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}
