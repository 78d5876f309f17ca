/**
 * The images panel (invariant I10's view): what each snapshot or backup taken so far holds, which
 * are still to come, and where the guest's writes have landed by the current step.
 */
import { el } from './dom.ts';
import { guestWrites, lastAtOrBefore, shortName, type TraceModel } from './traceModel.ts';

/** Long runs issue hundreds of writes: the table shows the latest ones. */
const MAX_WRITES = 8;

export class ImagesPanel {
  readonly el: HTMLElement;
  private lastKey = '';

  constructor(private model: TraceModel) {
    this.el = el('section', { class: 'panel images', 'data-testid': 'images' });
  }

  update(step: number): void {
    const m = this.model;
    const taken = m.images.filter((i) => i.step <= step);
    // Rebuild only when what the panel shows changed: the images taken, the write events seen.
    const writeSteps = m.cached('guestEventSteps', () => m.events.filter((e) => e.type === '@trace.guest' || e.type === '@trace.io.submit' || e.type === '@trace.io.complete').map((e) => e.step));
    const key = `${m.version}|${taken.length}|${lastAtOrBefore(writeSteps, step)}`;
    if (key === this.lastKey) return;
    this.lastKey = key;
    const allWrites = guestWrites(m, step);
    const writes = allWrites.slice(-MAX_WRITES);
    const pending = m.images.filter((i) => i.step > step);
    const imageList = el('ul', { class: 'image-list' });
    for (const img of taken) {
      imageList.append(
        el(
          'li',
          { class: 'image', 'data-testid': 'image', 'data-node': img.node, 'data-kind': img.kind, 'data-step': String(img.step), title: `${img.action} (action ${img.index}) at step ${img.step}` },
          el('span', { class: 'image-title' }, `${img.kind} of ${shortName(img.node)}`),
          el('span', { class: 'muted' }, ` step ${img.step}: `),
          img.holds.length ? el('span', { class: 'holds' }, 'holds ', ...img.holds.map((h) => el('span', { class: 'write-chip' }, h))) : el('span', { class: 'holds empty' }, 'holds no guest write'),
        ),
      );
    }
    if (!taken.length) imageList.append(el('li', { class: 'muted' }, m.images.length ? 'No image taken yet at this step.' : m.end ? 'This run takes no images.' : 'Images are reported when the run ends.'));
    const pendingList = pending.length ? el('p', { class: 'pending' }, 'Not taken yet: ', pending.map((p) => `${p.kind} of ${shortName(p.node)}`).join(', ')) : null;

    const writeRows = writes.map((w) =>
      el(
        'tr',
        {},
        el('td', {}, el('span', { class: 'write-chip' }, w.id), ` ${w.op}`),
        el('td', {}, w.issued !== undefined ? `step ${w.issued}` : '—'),
        el('td', {}, w.submits.length ? w.submits.map((s) => `${shortName(s.node)} @${s.step}${s.completed !== undefined ? ' ✓' : ''}`).join(', ') : el('span', { class: 'muted' }, 'not submitted yet')),
        el('td', {}, w.completed !== undefined ? `step ${w.completed}` : '—'),
      ),
    );
    const table = writes.length
      ? el('table', { class: 'writes' }, el('thead', {}, el('tr', {}, el('th', {}, 'guest write'), el('th', {}, 'issued'), el('th', {}, 'landed on (✓ done)'), el('th', {}, 'guest saw it complete'))), el('tbody', {}, ...writeRows))
      : el('p', { class: 'muted' }, 'No guest write issued yet.');
    const earlier = allWrites.length - writes.length;
    const more = earlier > 0 ? el('p', { class: 'muted' }, `…and ${earlier} earlier writes (${allWrites.slice(0, earlier).filter((w) => w.completed !== undefined).length} of them complete).`) : null;
    this.el.replaceChildren(el('h3', {}, 'Images (what each point-in-time copy holds)'), imageList, ...(pendingList ? [pendingList] : []), el('h3', {}, 'Guest writes so far'), table, ...(more ? [more] : []));
  }
}
