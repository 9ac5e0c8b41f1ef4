// The benchmark groups, in their default order (rounds rotate it). To add a group, write a module
// like the others (name, title, corpus 'npm' | 'big' | null, rows, round(b), optional setup(b))
// and list it here. To add a row to a group: one entry in its `rows` and one b.time()/b.value().
import big from './big.js'
import deps from './deps.js'
import diff from './diff.js'
import git from './git.js'
import interop from './interop.js'
import lazy from './lazy.js'
import limits from './limits.js'
import maintenance from './maintenance.js'
import mount from './mount.js'
import run from './run.js'
import startup from './startup.js'
import tar from './tar.js'
import velo from './velo.js'

export const groups = [limits, startup, velo, git, tar, interop, diff, mount, run, deps, maintenance, big, lazy]
