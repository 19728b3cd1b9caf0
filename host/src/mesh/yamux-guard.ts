// A guard around one race in @chainsafe/libp2p-yamux 8.0.1: a new stream sends
// its opening window update from a queued microtask, and when the connection
// closed in between (a peer killed, a link cut, under churn) the send throws
// StreamStateError from that microtask, where nothing can catch it: the
// process, a whole gateway, ends. Seen in test/mesh-churn.test.ts:
//   StreamStateError: Cannot write to a stream that is closed
//     at YamuxMuxer.sendFrame (muxer.js) at YamuxStream.sendWindowUpdate (stream.js)
//     at muxer.js (queueMicrotask in onCreateStream)
// A window update on a connection that is gone has nothing left to do: the
// stream is aborted with the error instead (whoever uses it sees it). Other
// errors are thrown as before. Imported for its effect by mesh/node.ts.
import { YamuxStream } from '@chainsafe/libp2p-yamux/stream';

const sendWindowUpdate = YamuxStream.prototype.sendWindowUpdate;

YamuxStream.prototype.sendWindowUpdate = function guardedSendWindowUpdate(this: YamuxStream): void {
  try {
    sendWindowUpdate.call(this);
  } catch (err) {
    if ((err as Error).name !== 'StreamStateError') throw err;
    this.abort(err as Error);
  }
};
