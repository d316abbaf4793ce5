/**
 * Memory of another process from /proc/<pid>/status (Linux): VmRSS is the resident set now,
 * VmHWM its peak ("high water mark") over the process's life.
 */
import { readFile } from 'node:fs/promises';

export interface ProcessMemory {
  readonly rssMb: number;
  readonly peakRssMb: number;
}

export async function processMemory(pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kilobytes = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (match?.[1] === undefined) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]);
  };
  return { rssMb: kilobytes('VmRSS') / 1024, peakRssMb: kilobytes('VmHWM') / 1024 };
}
