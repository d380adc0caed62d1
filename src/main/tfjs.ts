// tfjs as the Node side uses it. Its console warnings are for developers of tfjs apps: the "install
// our node backend" banner would reach users of the CLI and the server log, while the doctor and the
// Device view already say which backend runs and why. PROD silences them.
import * as tf from '@tensorflow/tfjs'

tf.env().set('PROD', true)

export { tf }
