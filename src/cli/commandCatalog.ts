/**
 * The commands as users see them, from oclif's manifest entries (no command module is loaded):
 * ids with spaces (`ref set`), summaries, examples with `<%= config.bin %>` filled in, flags and
 * arguments. Feeds the root help, `velo help --json`, shell completion and scripts/gen-command-docs.js.
 */

/** The parts of an oclif manifest command entry velo reads. */
export interface ManifestCommand {
  id: string
  summary?: string
  description?: string
  hidden?: boolean
  examples?: (string | {command: string; description?: string})[]
  args?: Record<string, {name: string; description?: string; required?: boolean; default?: unknown; options?: string[]}>
  flags?: Record<string, {name: string; char?: string; type: string; description?: string; helpGroup?: string; multiple?: boolean; options?: string[]; default?: unknown; hidden?: boolean; required?: boolean}>
  enableJsonFlag?: boolean
}

export interface CatalogFlag {
  name: string
  char?: string
  /** Takes a value (`--ref NAME`) rather than being a switch. */
  takesValue: boolean
  description: string
  options?: string[]
  multiple: boolean
  global: boolean
}

export interface CatalogCommand {
  id: string
  summary: string
  description: string
  usage: string
  examples: {command: string; description?: string}[]
  args: {name: string; description: string; required: boolean}[]
  flags: CatalogFlag[]
}

export function renderTemplate(text: string, bin = 'velo', id = ''): string {
  return text.replace(/<%=\s*config\.bin\s*%>/g, bin).replace(/<%=\s*command\.id\s*%>/g, id)
}

export function catalogEntry(c: ManifestCommand, bin = 'velo'): CatalogCommand {
  const id = c.id.replace(/:/g, ' ')
  const description = renderTemplate(c.description ?? '', bin, id)
  const summary = renderTemplate(c.summary ?? description.split('\n')[0] ?? '', bin, id)
  const args = Object.values(c.args ?? {}).map((a) => ({name: a.name, description: a.description ?? '', required: Boolean(a.required)}))
  const flags: CatalogFlag[] = Object.values(c.flags ?? {})
    .filter((f) => !f.hidden)
    .map((f) => ({
      name: f.name,
      char: f.char,
      takesValue: f.type === 'option',
      description: f.description ?? '',
      options: f.options,
      multiple: Boolean(f.multiple),
      global: f.helpGroup === 'GLOBAL' || f.name === 'json',
    }))
    .sort((a, b) => Number(a.global) - Number(b.global) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const argText = args.map((a) => (a.required ? a.name.toUpperCase() : `[${a.name.toUpperCase()}]`)).join(' ')
  const usage = `${bin} ${id}${argText ? ` ${argText}` : ''}${flags.some((f) => !f.global) ? ' [FLAGS]' : ''}`
  const examples = (c.examples ?? []).map((e) =>
    typeof e === 'string' ? {command: renderTemplate(e, bin, id)} : {command: renderTemplate(e.command, bin, id), description: e.description},
  )
  return {id, summary, description, usage, examples, args, flags}
}

/** Every visible command, sorted by id. */
export function catalog(commands: Iterable<ManifestCommand>, bin = 'velo'): CatalogCommand[] {
  const seen = new Set<string>()
  const out: CatalogCommand[] = []
  for (const c of commands) {
    if (c.hidden || seen.has(c.id)) continue
    seen.add(c.id)
    out.push(catalogEntry(c, bin))
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}
