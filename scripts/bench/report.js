// Renders the summary: a text table for the terminal and a Markdown section for docs/benchmarks.md.
import {fmtNum} from './Bench.js'

function cells(x) {
  const timed = x.unit === 's'
  const v = (n) => (n === undefined ? '-' : timed ? n.toFixed(3) : fmtNum(n))
  const fail = x.failed ? ` (${x.failed} failed)` : ''
  return {
    row: x.label,
    median: x.n ? `${v(x.median)}${timed ? '' : ` ${x.unit}`}` : `-${fail}`,
    range: x.n > 1 ? `${v(x.min)}-${v(x.max)}` : '',
    cpu: timed && x.cpu !== undefined ? x.cpu.toFixed(2) : '',
    rss: timed && x.rssMiB !== undefined ? x.rssMiB.toFixed(0) : '',
    ratio: x.ratio?.median !== undefined ? `${x.ratio.median.toFixed(2)}x ${x.ratio.vsLabel}` : '',
    target: x.target?.text ?? '',
    result: x.result ?? '',
  }
}

const HEAD = {row: 'row', median: 'median', range: 'min-max', cpu: 'CPU s', rss: 'RSS MiB', ratio: 'ratio (median of rounds)', target: 'target', result: ''}

export function textReport(summary, groups, meta) {
  const out = []
  out.push(`velo benchmark ${meta.date}: ${meta.rounds} round(s), ${meta.machine.cpus} cores (${meta.machine.cpu}), load ${meta.load}`)
  out.push(`filesystem: ${meta.fs}`)
  out.push(`corpus npm: ${meta.corpus.npm ? `${meta.corpus.npm.files} files, ${(meta.corpus.npm.bytes / 2 ** 20).toFixed(1)} MiB` : '-'}; times in seconds, wall clock of the whole command`)
  const keys = Object.keys(HEAD)
  const rows = []
  for (const g of groups) {
    const xs = summary.filter((x) => x.group === g.name)
    if (!xs.length) continue
    rows.push({title: g.title})
    for (const x of xs) rows.push(cells(x))
  }
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(HEAD[k].length, ...rows.filter((r) => !r.title).map((r) => r[k].length))]))
  const line = (r) => keys.map((k) => (k === 'row' || k === 'ratio' || k === 'target' ? r[k].padEnd(width[k]) : r[k].padStart(width[k]))).join('  ').trimEnd()
  out.push('', line(HEAD))
  for (const r of rows) out.push(r.title ? `-- ${r.title}` : line(r))
  out.push('', ...targetLines(summary, (s) => s))
  return out.join('\n')
}

function targetLines(summary, wrap) {
  const t = summary.filter((x) => x.target)
  if (!t.length) return []
  const lines = ['Targets (from the issues):']
  for (const x of t) {
    const measured = x.vs ? (x.ratio?.median === undefined ? '-' : `${x.ratio.median.toFixed(2)}x`) : x.median === undefined ? '-' : `${fmtNum(x.median)} ${x.unit}`
    lines.push(wrap(`${x.result ?? 'n/a'}  ${x.label}: ${measured} (target ${x.target.text})`))
  }
  return lines
}

export function markdownReport(summary, groups, meta) {
  const out = []
  out.push(`### Run of ${meta.date}`, '')
  out.push(`${meta.rounds} round(s); ${meta.machine.cpus} cores (${meta.machine.cpu}), ${meta.machine.memGiB} GiB, ${meta.machine.kernel}, Node ${meta.machine.node}; load average ${meta.load}.`)
  out.push(`Filesystem under the work dir: ${meta.fs}.`)
  if (meta.corpus.npm) out.push(`npm tree: ${meta.corpus.npm.files} files, ${meta.corpus.npm.dirs} dirs, ${meta.corpus.npm.symlinks} symlinks, ${(meta.corpus.npm.bytes / 2 ** 20).toFixed(1)} MiB.`)
  out.push(`Tools: ${meta.tools.join('; ')}.`, '')
  out.push('| row | median | min-max | CPU s | peak RSS MiB | ratio (median of per-round ratios) | target | |')
  out.push('|---|---|---|---|---|---|---|---|')
  for (const g of groups) {
    const xs = summary.filter((x) => x.group === g.name)
    if (!xs.length) continue
    out.push(`| **${g.title}** | | | | | | | |`)
    for (const x of xs) {
      const c = cells(x)
      out.push(`| ${c.row.replace(/\|/g, '\\|').replace(/^ +/, '&nbsp;&nbsp;')} | ${c.median} | ${c.range} | ${c.cpu} | ${c.rss} | ${c.ratio} | ${c.target} | ${c.result ? `**${c.result}**` : ''} |`)
    }
  }
  out.push('', 'Times are wall-clock seconds of the whole command (process start included).', '')
  out.push(...targetLines(summary, (s) => `- ${s}`).map((l, i) => (i === 0 ? `${l}\n` : l)))
  const failed = meta.checks.filter((c) => !c.ok)
  if (failed.length) out.push('', 'Failed checks:', ...failed.map((c) => `- r${c.round} ${c.group}: ${c.name}: ${c.detail}`))
  return out.join('\n') + '\n'
}
