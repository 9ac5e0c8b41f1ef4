import {describeTransport} from '../contracts/transport.js'
import {fileRemote} from '../helpers/remotes.js'

describeTransport('file', () => fileRemote())
