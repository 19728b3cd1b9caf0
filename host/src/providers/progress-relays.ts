// Progress of calls the gateway sends on to an upstream or a peer. Each call
// that asked for progress goes out with a token of the gateway's own, whose
// relay sends the notifications back to the caller under the caller's token.
// The relays are fed from the transport, ahead of the SDK's Client, which
// dispatches progress a microtask late and would drop a call's last step when
// its answer arrives in the same read.
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ProgressNotification } from '@modelcontextprotocol/sdk/types.js';

/** Relays of in-flight calls, by the gateway's own progress token. */
export type ProgressRelays = Map<string, (params: ProgressNotification['params']) => void>;

/** Feeds `transport`'s progress notifications for the gateway's tokens to their relays, in wire order; the rest goes on to the Client. */
export function interceptProgress(transport: Transport, relays: ProgressRelays): void {
  const inner = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if ('method' in message && message.method === 'notifications/progress' && !('id' in message)) {
      const params = message.params as ProgressNotification['params'];
      const relay = relays.get(String(params?.progressToken));
      if (relay) return relay(params);
    }
    inner?.(message, extra);
  };
}
