/**
 * The only file that imports ink and React (adapter; loaded lazily by InkProgress). Draws:
 *   ⠙ snapshot · hash  120/500 files · 1.0 MiB/5.0 MiB · 512.0 KiB/s · ETA 8s
 *     ███████░░░░░░░░░░░░░░░░░░░░░░░ 24%
 * and at the end `✔ snapshot · 500 files · 5.0 MiB · 2.1s` (or ✖ when the command failed).
 * Warnings are printed above the view (ink's Static).
 */
import {Box, Static, Text, render, type Instance} from 'ink'
import {createElement as h, type ReactElement} from 'react'
import {formatSeconds, fractionDone, progressBar, progressParts} from './formatProgress.js'
import type {ProgressEvent} from './ProgressEvent.js'

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const BAR_WIDTH = 30

interface ViewProps {
  command: string
  event?: ProgressEvent
  logs: string[]
  frame: number
  end?: {ok: boolean; seconds: number}
}

function View(p: ViewProps): ReactElement {
  const e = p.event
  const logs = h(Static<string>, {items: p.logs, children: (line: string, i: number) => h(Text, {key: String(i), color: 'yellow'}, line)})
  if (p.end) {
    const parts = e ? progressParts({...e, rate: 0, itemRate: 0, eta: null}) : []
    return h(
      Box,
      {flexDirection: 'column'},
      logs,
      h(Text, null, h(Text, {color: p.end.ok ? 'green' : 'red'}, p.end.ok ? '✔' : '✖'), ` ${p.command}`, p.end.ok ? '' : ' failed', parts.length ? ` · ${parts.join(' · ')}` : '', ` · ${formatSeconds(p.end.seconds)}`),
    )
  }
  const f = e ? fractionDone(e) : undefined
  const parts = e ? progressParts(e) : []
  return h(
    Box,
    {flexDirection: 'column'},
    logs,
    h(Text, null, h(Text, {color: 'cyan'}, SPINNER[p.frame % SPINNER.length]), ` ${p.command}`, e ? h(Text, {bold: true}, ` · ${e.phase}`) : '', parts.length ? `  ${parts.join(' · ')}` : ''),
    f !== undefined ? h(Text, null, '  ', h(Text, {color: 'green'}, progressBar(f, BAR_WIDTH)), ` ${Math.floor(f * 100)}%`) : null,
  )
}

export interface ProgressView {
  draw(e: ProgressEvent): void
  log(line: string): void
  finish(e: ProgressEvent | undefined, ok: boolean, seconds: number): Promise<void>
}

export function mountProgressView(stream: NodeJS.WriteStream, command: string): ProgressView {
  const props: ViewProps = {command, logs: [], frame: 0}
  const instance: Instance = render(h(View, props), {stdout: stream, stderr: stream, patchConsole: false, exitOnCtrlC: false})
  const redraw = (): void => instance.rerender(h(View, {...props, logs: [...props.logs]}))
  return {
    draw(e) {
      props.event = e
      props.frame++
      redraw()
    },
    log(line) {
      props.logs.push(line)
      redraw()
    },
    async finish(e, ok, seconds) {
      if (e) props.event = e
      props.end = {ok, seconds}
      redraw()
      instance.unmount()
      await instance.waitUntilExit()
    },
  }
}
