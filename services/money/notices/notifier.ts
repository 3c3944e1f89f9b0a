/**
 * The one interface every notice channel implements (email, the campus messaging platform's
 * webhook, MQTT): send one message, or throw saying why not. The notices service records each
 * attempt; a channel keeps no state of its own.
 */

export const NOTICE_KINDS = ['low-balance', 'cutoff-ahead', 'restored'] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

export interface NoticeMessage {
  /** The notices table's id: receivers de-duplicate by it (a crash may send one twice). */
  id: number;
  account: string;
  kind: NoticeKind;
  /** Low balance: 1 (mild) or 2 (urgent). */
  level: number | null;
  /** An e-mail address for email; the account for webhook and MQTT. */
  to: string;
  subject: string;
  text: string;
  /** What machines read: kind, account, amounts in fen, times in UTC ms, both languages' text. */
  payload: Record<string, unknown>;
}

export interface Notifier {
  readonly channel: 'email' | 'webhook' | 'mqtt';
  /** email: one message per customer sign-in with an address; webhook and MQTT: one per account. */
  readonly perCustomer: boolean;
  send(message: NoticeMessage): Promise<void>;
  close?(): Promise<void>;
}
