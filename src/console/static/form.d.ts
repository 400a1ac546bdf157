// Types of form.js for the unit tests (the browser loads the .js as is).
export interface Field {
  name: string;
  label: string;
  kind: string;
  required: boolean;
  nullable: boolean;
  hasDefault: boolean;
  default: unknown;
  options: unknown[];
  help: string;
}
export type FieldResult = { value: unknown; error?: undefined; omit?: undefined } | { error: string; value?: undefined; omit?: undefined } | { omit: true; value?: undefined; error?: undefined };
export function fieldsOf(schema: unknown): Field[] | undefined;
export function initialText(field: Field): string;
export function readField(field: Field, text: string): FieldResult;
export function readForm(fields: readonly Field[], texts: Record<string, string>): { input: Record<string, unknown>; errors?: undefined } | { errors: Record<string, string>; input?: undefined };
export function readJson(text: string): { input: unknown; error?: undefined } | { error: string; input?: undefined };
