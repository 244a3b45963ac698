/**
 * How many search/export streams the agent runs at once, over all its sessions
 * (`maxConcurrentStreams`). Streams hold an upstream connection each (LDAP streams never share
 * a pooled client), so they are bounded apart from the request cap: a stream that would start
 * beyond the bound is answered BUSY (retryable) instead.
 */
export class StreamSlots {
  private runningCount = 0;

  constructor(readonly max: number) {}

  get running(): number {
    return this.runningCount;
  }

  /** Takes a slot if one is free. */
  tryAcquire(): boolean {
    if (this.runningCount >= this.max) return false;
    this.runningCount += 1;
    return true;
  }

  release(): void {
    this.runningCount = Math.max(0, this.runningCount - 1);
  }
}
