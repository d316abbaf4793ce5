/**
 * The Graph requests of one mailbox that sending needs, each one call:
 *   sendMail (MIME or JSON)      https://learn.microsoft.com/graph/api/user-sendmail
 *   create/delete a draft, send  https://learn.microsoft.com/graph/api/user-post-messages, message-send
 *   attach a small file          https://learn.microsoft.com/graph/api/message-post-attachments
 *   upload session + ranges      https://learn.microsoft.com/graph/outlook-large-attachments
 */
import type { GraphHttp } from './graph-http.js';

export interface GraphMailboxOptions {
  readonly http: GraphHttp;
  /** `https://graph.microsoft.com/v1.0` or the configured one. */
  readonly baseUrl: string;
  readonly mailbox: string;
  /** A current access token (the provider reuses it until it is near expiry). */
  readonly token: () => Promise<string>;
}

export interface FileAttachmentJson {
  readonly '@odata.type': '#microsoft.graph.fileAttachment';
  readonly name: string;
  readonly contentType: string;
  readonly contentBytes: string;
  readonly contentId?: string;
  readonly isInline: boolean;
}

export interface UploadItem {
  readonly name: string;
  readonly size: number;
  readonly contentType: string;
  readonly contentId?: string | undefined;
  readonly isInline: boolean;
}

export class GraphMailbox {
  constructor(private readonly options: GraphMailboxOptions) {}

  /** sendMail with the message as base64 MIME (Content-Type: text/plain); Graph keeps a copy in Sent Items. */
  async sendMime(mime: Buffer): Promise<void> {
    await this.post('/sendMail', Buffer.from(mime.toString('base64'), 'ascii'), 'text/plain');
  }

  /** sendMail with a JSON message, which is the only form that can skip Sent Items. */
  async sendJson(message: object, saveToSentItems: boolean): Promise<void> {
    await this.post('/sendMail', JSON.stringify({ message, saveToSentItems }), 'application/json');
  }

  async createDraft(message: object): Promise<string> {
    const answer = await this.post('/messages', JSON.stringify(message), 'application/json');
    const id = (answer as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string') throw new Error('Microsoft Graph created a draft without an id');
    return id;
  }

  async attach(draftId: string, attachment: FileAttachmentJson): Promise<void> {
    await this.post(`/messages/${encodeURIComponent(draftId)}/attachments`, JSON.stringify(attachment), 'application/json');
  }

  /** An upload session's pre-authorized URL (it carries its own credential: no bearer token goes to it). */
  async createUploadSession(draftId: string, item: UploadItem): Promise<string> {
    const body = {
      AttachmentItem: {
        attachmentType: 'file',
        name: item.name,
        size: item.size,
        contentType: item.contentType,
        isInline: item.isInline,
        ...(item.contentId === undefined ? {} : { contentId: item.contentId }),
      },
    };
    const answer = await this.post(`/messages/${encodeURIComponent(draftId)}/attachments/createUploadSession`, JSON.stringify(body), 'application/json');
    const url = (answer as { uploadUrl?: unknown } | undefined)?.uploadUrl;
    if (typeof url !== 'string') throw new Error('Microsoft Graph created an upload session without an uploadUrl');
    return url;
  }

  /** One byte range of an upload session: `Content-Range: bytes start-end/total`. */
  async uploadRange(uploadUrl: string, bytes: Buffer, start: number, total: number): Promise<void> {
    await this.options.http.send({
      method: 'PUT',
      url: uploadUrl,
      body: bytes,
      contentType: 'application/octet-stream',
      headers: { 'content-range': `bytes ${start}-${start + bytes.length - 1}/${total}` },
    });
  }

  async sendDraft(draftId: string): Promise<void> {
    await this.post(`/messages/${encodeURIComponent(draftId)}/send`, undefined, undefined);
  }

  /** Best effort after a failed send, so a retry does not leave drafts behind. */
  async deleteDraft(draftId: string): Promise<void> {
    await this.options.http.send({ method: 'DELETE', url: this.url(`/messages/${encodeURIComponent(draftId)}`), token: await this.options.token() });
  }

  private async post(path: string, body: Buffer | string | undefined, contentType: string | undefined): Promise<unknown> {
    const response = await this.options.http.send({
      method: 'POST',
      url: this.url(path),
      token: await this.options.token(),
      body,
      ...(contentType === undefined ? {} : { contentType }),
    });
    return response.json;
  }

  private url(path: string): string {
    return `${this.options.baseUrl}/users/${encodeURIComponent(this.options.mailbox)}${path}`;
  }
}
