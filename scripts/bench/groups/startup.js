// Process start: `velo --version` against bare `node -e 0`, alternated REPEAT times per round (the
// round's figure is the median of its samples: start-up is short and noisy).
const REPEAT = 7

export default {
  name: 'startup',
  title: 'Start-up',
  corpus: null,
  rows: [
    {id: 'limit.node', label: 'node -e 0', short: 'node -e 0'},
    {id: 'velo.version', label: 'velo --version', vs: 'limit.node', target: {max: 1.5, text: '<= 1.5x node -e 0'}},
  ],
  round(b) {
    for (let i = 0; i < REPEAT; i++) {
      b.time('limit.node', 'node -e 0')
      b.time('velo.version', `${b.velo} --version >/dev/null`)
    }
  },
}
