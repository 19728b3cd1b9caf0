// Types for results.mjs, so TypeScript tests can import it under `strict`.
export interface Check {
  id?: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | string;
  description?: string;
  errorMessage?: string;
}
export interface Outcome {
  passed: boolean;
  problems: string[];
}
export interface Comparison {
  ok: boolean;
  total: number;
  passed: number;
  unexpectedFailures: { scenario: string; problems: string[] }[];
  staleEntries: { scenario: string; why: string }[];
  expectedFailures: { scenario: string; reason: string }[];
}
export function scenariosRun(suiteStdout: string): string[];
export function readChecks(outputDir: string): Map<string, Check[]>;
export function verdict(checks: Check[] | undefined): Outcome;
export function parseExpected(entries: unknown, target: string): Map<string, string>;
export function compare(outcomes: Map<string, Outcome>, expected: Map<string, string>): Comparison;
export function collectOutcomes(suiteStdout: string, outputDir: string): Map<string, Outcome>;
