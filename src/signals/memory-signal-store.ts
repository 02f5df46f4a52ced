import type { SignalBlock, SignalStore, TransmitterState } from './signal-store.js';

// A flood of distinct SETs cannot grow the applied-SET memory past this; the oldest go first.
const APPLIED_CAP = 100_000;

/** One process, no Redis: the embedded default. */
export class MemorySignalStore implements SignalStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  private readonly applied = new Map<string, number>();
  private readonly states = new Map<string, { at: number; value: string }>();
  private readonly blockMap = new Map<string, SignalBlock>();
  private readonly transmitterMap = new Map<string, TransmitterState>();
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly clock: () => number = Date.now) {}

  async wasApplied(key: string): Promise<boolean> {
    const until = this.applied.get(key);
    if (until === undefined) return false;
    if (until > this.clock()) return true;
    this.applied.delete(key);
    return false;
  }

  async markApplied(key: string, ttlMs: number): Promise<void> {
    this.applied.delete(key);
    this.applied.set(key, this.clock() + ttlMs);
    if (this.applied.size > APPLIED_CAP) this.applied.delete(this.applied.keys().next().value!);
  }

  async advance(key: string, at: number, value: string): Promise<boolean> {
    const current = this.states.get(key);
    if (current !== undefined && current.at > at) return false;
    this.states.set(key, { at, value });
    return true;
  }

  async putBlock(block: SignalBlock): Promise<void> {
    this.blockMap.set(block.id, block);
    this.emit();
  }

  async removeBlock(id: string): Promise<void> {
    if (this.blockMap.delete(id)) this.emit();
  }

  async blocks(): Promise<SignalBlock[]> {
    return [...this.blockMap.values()];
  }

  async patchTransmitter(name: string, patch: TransmitterState, announce: boolean): Promise<void> {
    this.transmitterMap.set(name, { ...this.transmitterMap.get(name), ...patch });
    if (announce) this.emit();
  }

  async transmitters(): Promise<Record<string, TransmitterState>> {
    return Object.fromEntries(this.transmitterMap);
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  onReconnect(): void {}

  async settled(): Promise<void> {}

  async close(): Promise<void> {}

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}
