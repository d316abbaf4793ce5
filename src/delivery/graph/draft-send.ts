/**
 * A message too large for one sendMail request goes as a draft: created from the parsed message
 * (subject, sender, recipients, Reply-To, Message-ID via internetMessageId, X- headers via
 * internetMessageHeaders, the body with its cid: references), each attachment added (under 3 MB
 * in one POST, larger through an upload session in chunks of a multiple of 320 KiB), then sent.
 * https://learn.microsoft.com/graph/outlook-large-attachments
 * https://learn.microsoft.com/graph/api/resources/message (internetMessageId: "updatable only if isDraft")
 */
import type { MessageFile } from '../../core/message-file.js';
import { planRecipients, type NamedAddress } from './graph-recipients.js';
import type { FileAttachmentJson, GraphMailbox } from './graph-mailbox.js';
import { forEachAttachment, outlineMessage, type AttachmentOutline, type MessageOutline } from './message-outline.js';

/** Files under 3 MB are attached in one request; base64 then stays under the 4 MB request limit. */
export const SMALL_ATTACHMENT_BYTES = 3_000_000;

export interface DraftSendOptions {
  readonly mailbox: GraphMailbox;
  /** The spooled message: the first `size` bytes of its file. */
  readonly file: MessageFile;
  readonly recipients: readonly string[];
  /** Bytes per upload-session request (graph.uploadChunkBytes). */
  readonly chunkBytes: number;
}

export async function sendAsDraft(options: DraftSendOptions): Promise<void> {
  const outline = await outlineMessage(options.file);
  const draftId = await options.mailbox.createDraft(messageJson(outline, options.recipients));
  try {
    await forEachAttachment(options.file, async (attachment, content) => {
      const size = outline.attachments[attachment.index]?.size ?? 0;
      if (size < SMALL_ATTACHMENT_BYTES) {
        await options.mailbox.attach(draftId, fileAttachment(attachment, await collect(content)));
        return;
      }
      const uploadUrl = await options.mailbox.createUploadSession(draftId, { ...attachment, size });
      await uploadInChunks(options.mailbox, uploadUrl, content, size, options.chunkBytes);
    });
    await options.mailbox.sendDraft(draftId);
  } catch (error) {
    await options.mailbox.deleteDraft(draftId).catch(() => undefined);
    throw error;
  }
}

/** A small message as one JSON sendMail (used when Sent Items must not keep a copy). */
export async function sendAsJson(options: Omit<DraftSendOptions, 'chunkBytes'>, saveToSentItems: boolean): Promise<void> {
  const outline = await outlineMessage(options.file);
  const attachments: FileAttachmentJson[] = [];
  await forEachAttachment(options.file, async (attachment, content) => {
    attachments.push(fileAttachment(attachment, await collect(content)));
  });
  await options.mailbox.sendJson({ ...messageJson(outline, options.recipients), attachments }, saveToSentItems);
}

/** The message resource for Graph; recipients as planned from the envelope (graph-recipients.ts). */
export function messageJson(outline: MessageOutline, pending: readonly string[]): Record<string, unknown> {
  const plan = planRecipients(outline, pending);
  const recipient = (entry: NamedAddress) => ({ emailAddress: { address: entry.address, ...(entry.name === undefined ? {} : { name: entry.name }) } });
  return {
    subject: outline.subject,
    body: outline.body,
    ...(outline.from === undefined ? {} : { from: recipient(outline.from) }),
    toRecipients: plan.to.map(recipient),
    ccRecipients: plan.cc.map(recipient),
    bccRecipients: plan.bcc.map(recipient),
    replyTo: outline.replyTo.map(recipient),
    ...(outline.messageId === undefined ? {} : { internetMessageId: outline.messageId }),
    ...(outline.customHeaders.length === 0 ? {} : { internetMessageHeaders: outline.customHeaders }),
  };
}

function fileAttachment(attachment: Omit<AttachmentOutline, 'size'>, bytes: Buffer): FileAttachmentJson {
  return {
    '@odata.type': '#microsoft.graph.fileAttachment',
    name: attachment.name,
    contentType: attachment.contentType,
    contentBytes: bytes.toString('base64'),
    isInline: attachment.isInline,
    ...(attachment.contentId === undefined ? {} : { contentId: attachment.contentId }),
  };
}

/** Sends the stream as consecutive byte ranges of `chunkBytes` (the last may be shorter). */
async function uploadInChunks(mailbox: GraphMailbox, uploadUrl: string, content: AsyncIterable<Buffer>, total: number, chunkBytes: number): Promise<void> {
  const chunk = Buffer.allocUnsafe(chunkBytes);
  let filled = 0;
  let sent = 0;
  for await (const piece of content) {
    let offset = 0;
    while (offset < piece.length) {
      const copied = piece.copy(chunk, filled, offset);
      filled += copied;
      offset += copied;
      if (filled < chunkBytes) continue;
      await mailbox.uploadRange(uploadUrl, chunk, sent, total);
      sent += filled;
      filled = 0;
    }
  }
  if (filled > 0) await mailbox.uploadRange(uploadUrl, chunk.subarray(0, filled), sent, total);
  sent += filled;
  if (sent !== total) throw new Error(`attachment changed between reads: ${sent} bytes instead of ${total}`);
}

async function collect(content: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of content) parts.push(part);
  return Buffer.concat(parts);
}
