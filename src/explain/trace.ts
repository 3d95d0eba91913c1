/**
 * Notes plugins add about one query while `explain` runs it: the upstream
 * forward chose, whether cache answered. Only explain's requests carry one
 * (Request.trace); on served queries the field is absent, so a plugin's
 * `req.trace?.note(...)` costs one property read.
 */
export interface QueryTrace {
  note(plugin: string, text: string, facts?: Record<string, string | number | boolean>): void;
}

export interface TraceNote {
  plugin: string;
  text: string;
  facts?: Record<string, string | number | boolean>;
}

export class NoteList implements QueryTrace {
  readonly notes: TraceNote[] = [];

  note(plugin: string, text: string, facts?: Record<string, string | number | boolean>): void {
    this.notes.push(facts === undefined ? { plugin, text } : { plugin, text, facts });
  }
}
