import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";

/** What signing one S3 request needs. */
export interface SigV4Request {
  method: string;
  /** The path exactly as sent: already URI-encoded once (S3 does not double-encode). */
  path: string;
  /** Every header to sign, lower-case names, `host` included. */
  headers: Record<string, string>;
  /** Hex SHA-256 of the body, also sent as x-amz-content-sha256. */
  payloadSha256: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The request time as x-amz-date: YYYYMMDD'T'HHMMSS'Z'. */
  amzDate: string;
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: SourceData): Buffer | string {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** SHA-256 and HMAC-SHA256 on node:crypto, in the shape the signer asks for (the SDK's Node hash does the same). */
class NodeSha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytesOf(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(bytesOf(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

/** Signers per region and key pair: the signer caches its signing key per day. */
const signers = new Map<string, SignatureV4>();

function signerFor(request: SigV4Request): SignatureV4 {
  const id = `${request.region}\n${request.accessKeyId}\n${request.secretAccessKey}`;
  let signer = signers.get(id);
  if (!signer) {
    if (signers.size > 16) signers.clear();
    signer = new SignatureV4({
      credentials: { accessKeyId: request.accessKeyId, secretAccessKey: request.secretAccessKey },
      region: request.region,
      service: "s3",
      sha256: NodeSha256,
      // S3 paths are encoded once, as sent.
      uriEscapePath: false,
    });
    signers.set(id, signer);
  }
  return signer;
}

/** x-amz-date of a time: 20130524T000000Z. */
export function toAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** The time an x-amz-date names. */
function fromAmzDate(amzDate: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) throw new Error(`not an x-amz-date: '${amzDate}'`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** One path segment URI-encoded as SigV4 wants it (RFC 3986 unreserved kept, everything else %XX). */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The Authorization header of an S3 request signed with AWS Signature Version 4 (header
 * form, no query string, payload hash given), by the SDK's own signer (@smithy/signature-v4)
 * without the rest of the SDK's per-request middleware. Checked against the examples of the
 * S3 SigV4 documentation in s3-sigv4.test.ts.
 */
export async function signS3Request(request: SigV4Request): Promise<string> {
  const signed = await signerFor(request).sign(
    {
      method: request.method,
      protocol: "https:",
      hostname: request.headers.host ?? "",
      path: request.path,
      query: {},
      headers: { ...request.headers, "x-amz-content-sha256": request.payloadSha256 },
    },
    { signingDate: fromAmzDate(request.amzDate) },
  );
  const authorization = signed.headers.authorization ?? signed.headers.Authorization;
  if (!authorization) throw new Error("the SigV4 signer returned no authorization header");
  return authorization;
}
