/**
 * What this browser follows, for notifications: the runs started from here, and the
 * deployments a person chose to follow. Kept in the browser's storage.
 */

const RUNS_KEY = "taskbook:started-runs";
const DEPLOYMENTS_KEY = "taskbook:followed-deployments";
/** The newest runs started here that are remembered. */
const MAX_RUNS = 500;

function read(key: string): string[] {
  try {
    const value = JSON.parse(window.localStorage.getItem(key) ?? "[]") as unknown;
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
  } catch {
    return [];
  }
}

function write(key: string, values: string[]): void {
  try {
    window.localStorage.setItem(key, JSON.stringify(values));
  } catch {
    // storage is off (a private window): following lasts as long as the page
  }
}

export function startedHere(runId: string): void {
  write(RUNS_KEY, [...read(RUNS_KEY).filter((id) => id !== runId), runId].slice(-MAX_RUNS));
}

export function isStartedHere(runId: string): boolean {
  return read(RUNS_KEY).includes(runId);
}

export function isFollowed(deployment: string): boolean {
  return read(DEPLOYMENTS_KEY).includes(deployment);
}

export function setFollowed(deployment: string, follow: boolean): void {
  const others = read(DEPLOYMENTS_KEY).filter((name) => name !== deployment);
  write(DEPLOYMENTS_KEY, follow ? [...others, deployment] : others);
}
