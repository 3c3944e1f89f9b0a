/**
 * Where and how a process reaches the broker. `ca` is for `mqtts://` with a broker certificate
 * signed by the campus's own CA (PEM); without it the system CAs verify the broker. Certificates
 * are always verified: there is no option to turn that off.
 */
export interface MqttConnection {
  url: string;
  username?: string;
  password?: string;
  ca?: string | Buffer;
}
