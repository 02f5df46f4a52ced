import { createInterface } from 'node:readline';
import type { ManagedChild, ProcessGroup } from '../procs/process-group.js';
import type { LoadJob, LoadOutcome } from './job.js';

const WORKER = new URL('./autocannon-worker.ts', import.meta.url).pathname;

/** The orchestrator's handle on the generator process: one job in flight, answered by id. */
export class GeneratorClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (outcome: LoadOutcome) => void>();

  private constructor(readonly child: ManagedChild) {
    const stdout = child.process.stdout;
    if (stdout === null) throw new Error('generator has no stdout');
    createInterface({ input: stdout }).on('line', (line) => {
      const outcome = JSON.parse(line) as LoadOutcome;
      this.waiting.get(outcome.id)?.(outcome);
      this.waiting.delete(outcome.id);
    });
  }

  static start(group: ProcessGroup, core: number | undefined): GeneratorClient {
    const child = group.start({
      name: 'autocannon',
      command: process.execPath,
      args: ['--import', 'tsx', WORKER],
      core,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new GeneratorClient(child);
  }

  run(job: Omit<LoadJob, 'id'>): Promise<LoadOutcome> {
    const id = this.nextId++;
    return new Promise<LoadOutcome>((resolve, reject) => {
      // A stuck generator must not hang the run: twice the duration plus start-up is plenty.
      const limitMs = job.durationSeconds * 2000 + 30_000;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`generator gave no answer within ${limitMs} ms`));
      }, limitMs);
      void this.child.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`generator exited:\n${this.child.stderrTail()}`));
      });
      this.waiting.set(id, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
      this.child.process.stdin?.write(`${JSON.stringify({ ...job, id })}\n`);
    });
  }
}
