import { Duplex } from 'node:stream';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { OtherHandler, PacketFraming } from './packet-framing.ts';
import { PublishFraming, type PublishHandler } from './publish-framing.ts';

/**
 * An mqtt.js client whose QoS 1 PUBLISH packets are read by PublishFraming and handed to
 * `onPublish` as they come off the socket, while mqtt.js keeps everything else: connecting (TCP,
 * TLS, WebSocket alike: the framing sits on whatever byte stream mqtt.js built), CONNACK,
 * SUBSCRIBE, keepalive, reconnects, QoS 0 messages and any packet the framing does not claim.
 *
 * mqtt.js therefore never sees the claimed PUBLISHes: it neither acknowledges them nor emits
 * 'message' for them; `onPublish`'s owner answers each with a PUBACK written to `client.stream`.
 * A claimed PUBLISH may be handed over before mqtt.js has read a CONNACK that came in the same
 * chunk (a persistent session's queue follows the CONNACK at once): its owner must not write a
 * PUBACK until the client says it is connected. Each connection gets a framing of its own, for the
 * protocol version mqtt.js connects with at that moment (ingest may fall back from 5 to 3.1.1).
 */
export function connectFramed(url: string, options: IClientOptions, onPublish: PublishHandler): MqttClient {
  return connectWithFraming(
    url,
    options,
    (client, onOther) => new PublishFraming(client.options.protocolVersion ?? 4, onPublish, onOther),
  );
}

/**
 * An mqtt.js client whose incoming bytes go through a framing of `makeFraming`'s, built afresh for
 * each connection (with the client as it is at that moment), which claims its packets and passes
 * every other one on to mqtt.js.
 */
export function connectWithFraming(
  url: string,
  options: IClientOptions,
  makeFraming: (client: MqttClient, onOther: OtherHandler) => PacketFraming,
): MqttClient {
  // Asked for only so that the stream can be wrapped before the first connection; mqtt.js also
  // reads it in end(), where it would change what a later reconnect does, so it is taken back.
  const client = mqtt.connect(url, { ...options, manualConnect: true });
  client.options.manualConnect = false;
  // A private member of mqtt.js's client (5.x): the tests of ingest fail if a later version drops it.
  const build = client['streamBuilder'];
  client['streamBuilder'] = (c: MqttClient) =>
    new FramedStream(build(c) as unknown as Duplex, (onOther) => makeFraming(c, onOther));
  client.connect();
  return client;
}

/**
 * The connection's byte stream as mqtt.js sees it: writes go straight through; of the bytes read,
 * only the packets the framing passes on.
 */
class FramedStream extends Duplex {
  constructor(
    private readonly inner: Duplex,
    makeFraming: (onOther: OtherHandler) => PacketFraming,
  ) {
    super();
    const framing = makeFraming((bytes) => {
      if (!this.push(bytes)) inner.pause();
    });
    inner.on('data', (chunk: Buffer) => {
      // Bytes still buffered when mqtt.js destroyed the connection belong to no one: the broker
      // redelivers what they carried.
      if (!this.destroyed) framing.push(chunk);
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => this.destroy());
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.inner.write(chunk, encoding, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.inner.end(() => done());
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.inner.destroy();
    done(err);
  }
}
