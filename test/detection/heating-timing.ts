// CPU of the electric-heating detector per judged meter, on campuses of real buildings (the eval's
// tuning half, test/eval/real), with heaters of 10 % in some of them; HEAT_DUMP=file writes every
// score and finding, so two versions of the detector can be compared for identical output.
// Run: npx tsx test/detection/heating-timing.ts   (HEAT_CAMPUSES=n, default 4)
import { writeFileSync } from 'node:fs';
import { heatingDetector } from '../../services/inspection/detection/heating.ts';
import { buildCampus, campusInput } from '../eval/real/campus.ts';
import { heaterCase } from '../eval/real/cases.ts';
import { GRID_START, HOUR, half, loadRealData } from '../eval/real/data.ts';

const CAMPUSES = Number(process.env.HEAT_CAMPUSES ?? 4);
/** Ends in winter and in the shoulder season, as the eval's heater cases have them. */
const ENDS = ['2018-01-25', '2018-04-20', '2018-10-25', '2018-12-15'];

const data = loadRealData();
const pool = data.buildings.filter((b) => half(b.id) === 'tuning');
const detector = heatingDetector();
const dump: unknown[] = [];
let cpuUs = 0;
let meters = 0;
for (let i = 0; i < CAMPUSES; i++) {
  const endHour = Math.round((Date.parse(ENDS[i % ENDS.length]!) - GRID_START) / HOUR);
  const campus = buildCampus(data, pool, 7919 * (i + 1), { feeders: 4, size: 8, endHour });
  heaterCase(campus, data, 0.1);
  const { input } = campusInput(campus, data);
  const t = process.cpuUsage();
  const result = detector.run(input);
  const used = process.cpuUsage(t);
  cpuUs += used.user + used.system;
  const judged = result.scores.filter((s) => s.kind === 'meter').length;
  meters += judged;
  dump.push(result);
  console.log(
    `campus ${i + 1} (ends ${ENDS[i % ENDS.length]}): ${judged} meters, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU`,
  );
}
console.log(`heating detector: ${(cpuUs / 1000 / meters).toFixed(2)} ms CPU per meter (${meters} meters)`);
if (process.env.HEAT_DUMP) writeFileSync(process.env.HEAT_DUMP, JSON.stringify(dump));
