import { describe, expect, it } from 'vitest';
import { UPLOAD_BUDGET_BYTES, UPLOAD_BUDGET_WINDOW_MS, UploadBudget } from './upload-budget.js';

describe('UploadBudget (150 MB in 5 minutes per mailbox)', () => {
  it('has room until the window is full, then says when the oldest bytes leave it', () => {
    const budget = new UploadBudget(100, 60_000);
    expect(budget.msUntilRoom(60, 0)).toBe(0);
    budget.record(60, 0);
    budget.record(30, 10_000);
    expect(budget.msUntilRoom(10, 20_000)).toBe(0);
    // 60 + 30 + 20 > 100: room once the 60 bytes of t=0 expire at t=60 s.
    expect(budget.msUntilRoom(20, 20_000)).toBe(40_000);
    // 60 + 30 + 80 > 100, and 30 + 80 still > 100: the 30 bytes of t=10 s must go too.
    expect(budget.msUntilRoom(80, 20_000)).toBe(50_000);
    expect(budget.msUntilRoom(80, 70_000)).toBe(0);
  });

  it('lets a request larger than the whole budget go once the window is empty', () => {
    const budget = new UploadBudget(100, 60_000);
    expect(budget.msUntilRoom(500, 0)).toBe(0);
    budget.record(500, 0);
    expect(budget.msUntilRoom(1, 1_000)).toBe(59_000);
  });

  it("defaults to Outlook's limit", () => {
    expect(UPLOAD_BUDGET_BYTES).toBe(150 * 1024 * 1024);
    expect(UPLOAD_BUDGET_WINDOW_MS).toBe(300_000);
  });
});
