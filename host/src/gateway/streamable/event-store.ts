// The events of one session's SSE streams, kept so that a client whose
// connection dropped can resume a stream (Streamable HTTP resumability:
// GET with Last-Event-ID) and get exactly the events it missed, then the rest.
//
// Every event carries an id `<stream>:<n>`: the stream's number, from one
// counter for the whole gateway (so an id from another session never names a
// stream of this one), and the event's place in its stream (0 is the priming
// event, which holds no message and is never stored). The store is bounded
// per session by count and by bytes (of the SSE text): past either bound the
// oldest events go first, whatever stream they belong to, and a resume from
// before a dropped event is refused (410) rather than replayed with a gap.
// A stream that has ended and has no event left is forgotten. The store
// lives and dies with its session.
import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { HTTP_REFUSED } from '../../protocol/jsonrpc.js';
import { HttpRefusal } from '../../protocol/http-refusal.js';
import { messageJson } from './messages.js';

export interface EventStoreLimits {
  /** Most events kept per session (gateway.event_store_max_events). */
  maxEvents: number;
  /** Most bytes of SSE text kept per session (gateway.event_store_max_bytes). */
  maxBytes: number;
}

/**
 * How long a client should wait before resuming a stream it lost, in ms,
 * sent as the priming event's `retry`. Long enough that a client does not
 * hammer a gateway that is restarting, short enough that a call resumes
 * before a person notices.
 */
export const RETRY_MS = 1000;

/** Longest Last-Event-ID looked at: the ids this gateway issues are short. */
const MAX_EVENT_ID_CHARS = 40;
const EVENT_ID = /^(\d{1,15}):(\d{1,15})$/;

let nextStreamKey = 1;

interface StoredEvent {
  stream: SseStream;
  seq: number;
  frame: string;
  bytes: number;
}

/** One logical SSE stream of a session (a POST's answer, or the GET stream), across the connections that carry it. */
export class SseStream {
  /** The place of the newest event; 0 until a message is sent. */
  lastSeq = 0;
  /** Events up to this place were dropped from the store (or never kept). */
  droppedThrough = 0;
  /** How many of its events the store holds. */
  kept = 0;
  /** No more events will come: a resume replays what is kept and ends. */
  ended = false;
  private sink: ServerResponse | undefined;

  constructor(
    readonly key: number,
    private readonly store: SessionEventStore,
  ) {}

  /** Whether a connection carries the stream now. */
  get attached(): boolean {
    return this.sink !== undefined;
  }

  /** Carries the stream on `res` from now on; a connection that still held it is ended (the client has left it). */
  attach(res: ServerResponse): void {
    if (this.sink && this.sink !== res) this.sink.end();
    this.sink = res;
    res.once('close', () => {
      if (this.sink === res) this.sink = undefined;
    });
  }

  /** Ends the connection that carries the stream, not the stream: its events are kept for a resume. */
  detach(): void {
    const sink = this.sink;
    this.sink = undefined;
    sink?.end();
  }

  /** The priming event: an id to resume from before any message, and how long to wait before resuming. */
  prime(): void {
    this.sink?.write(`id: ${this.key}:0\nretry: ${RETRY_MS}\ndata: \n\n`);
  }

  /** Sends `message` as the stream's next event, kept for a resume even when no connection carries it now. */
  send(message: JSONRPCMessage): void {
    const seq = ++this.lastSeq;
    const frame = `id: ${this.key}:${seq}\nevent: message\ndata: ${messageJson(message)}\n\n`;
    this.store.keep(this, seq, frame);
    this.sink?.write(frame);
  }

  /** The stream is complete: ends its connection, and later resumes replay and end. */
  end(): void {
    this.ended = true;
    this.sink?.end();
    this.sink = undefined;
    this.store.forgetIfEmpty(this);
  }
}

export class SessionEventStore {
  /** Oldest first, across the session's streams. */
  private readonly events: StoredEvent[] = [];
  private bytes = 0;
  private readonly streams = new Map<number, SseStream>();

  constructor(private readonly limits: EventStoreLimits) {}

  /** Events kept now. */
  get eventCount(): number {
    return this.events.length;
  }

  /** Bytes of SSE text kept now. */
  get byteCount(): number {
    return this.bytes;
  }

  /** A new stream of this session. */
  open(): SseStream {
    const stream = new SseStream(nextStreamKey++, this);
    this.streams.set(stream.key, stream);
    return stream;
  }

  /** Stores one event, then drops the oldest while a bound is exceeded. */
  keep(stream: SseStream, seq: number, frame: string): void {
    const bytes = Buffer.byteLength(frame);
    if (bytes > this.limits.maxBytes) {
      // Keeping it would push out every other event of the session; it is sent, not kept.
      stream.droppedThrough = seq;
      return;
    }
    this.events.push({ stream, seq, frame, bytes });
    this.bytes += bytes;
    stream.kept += 1;
    while (this.events.length > this.limits.maxEvents || this.bytes > this.limits.maxBytes) this.dropOldest();
  }

  private dropOldest(): void {
    const oldest = this.events.shift();
    if (!oldest) return;
    this.bytes -= oldest.bytes;
    oldest.stream.droppedThrough = oldest.seq;
    oldest.stream.kept -= 1;
    this.forgetIfEmpty(oldest.stream);
  }

  /** Forgets an ended stream none of whose events is kept: nothing could be replayed from it. */
  forgetIfEmpty(stream: SseStream): void {
    if (stream.ended && stream.kept === 0) this.streams.delete(stream.key);
  }

  /** The stream `lastEventId` names and the SSE text of its events after it, or a refusal that says why not. */
  replay(lastEventId: string): { stream: SseStream; frames: string[] } {
    const match = lastEventId.length <= MAX_EVENT_ID_CHARS ? EVENT_ID.exec(lastEventId) : null;
    if (!match) {
      throw new HttpRefusal(400, HTTP_REFUSED, `Bad Request: Last-Event-ID "${lastEventId.slice(0, MAX_EVENT_ID_CHARS)}" is not an event id of this gateway (they look like 12:3). Resume with the id of the last event you received.`);
    }
    const stream = this.streams.get(Number(match[1]));
    const seq = Number(match[2]);
    if (!stream || seq > stream.lastSeq) {
      throw new HttpRefusal(400, HTTP_REFUSED, `Bad Request: Last-Event-ID ${lastEventId} names no event sent in this session (an id of another session, or of a stream that ended long ago). Nothing can be replayed; send the request again.`);
    }
    if (seq < stream.droppedThrough) {
      throw new HttpRefusal(
        410,
        HTTP_REFUSED,
        `Gone: the events after ${lastEventId} are no longer kept (a session keeps its last ${this.limits.maxEvents} events and ${this.limits.maxBytes} bytes: gateway.event_store_max_events, gateway.event_store_max_bytes). What they carried is lost; send the request again.`,
      );
    }
    const frames = this.events.filter((e) => e.stream === stream && e.seq > seq).map((e) => e.frame);
    return { stream, frames };
  }
}
