// node --import tsx load/profile/summarize-profile.ts <file.cpuprofile> [top] [skip-ms]
import { readFileSync } from 'node:fs';
import { profileTable, summarizeProfile } from './profile-summary.js';

const [file, top, skipMs] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: summarize-profile.ts <file.cpuprofile> [top] [skip-ms]');
  process.exit(2);
}
console.log(
  profileTable(
    summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), Number(top ?? 15), Number(skipMs ?? 0)),
  ),
);
