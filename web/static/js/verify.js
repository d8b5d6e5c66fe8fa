// Checking a credential in the visitor's browser, without trusting the server.
//
// A plain ES module: no build step, no dependency, no network. Everything it checks
// is handed to it (a proof bundle from GET /v1/credentials/{id}/proof, a trust list
// from GET /v1/trust-list or, better, one the page pins); WebCrypto does the hashing
// (SHA-256) and the signatures (Ed25519), so it needs a secure context.
//
// What it mirrors, function by function:
//   canonicalize              RFC 8785 (JCS)               registry/crypto/jcs.py
//   base58btcDecode,
//   decodeMultibaseKey        base58btc, Multikey          registry/crypto/multikey.py
//   verifyDataIntegrityProof  vc-di-eddsa eddsa-jcs-2022   registry/crypto/eddsa_jcs_2022.py
//   leafHash, verifyInclusion RFC 9162 §2.1.3.2            registry/tlog/merkle.py
//   verifyCheckpoint          C2SP signed-note, checkpoint registry/tlog/checkpoint.py, note.py
//   witnessCosignatures       C2SP tlog-cosignature        registry/tlog/checkpoint.py
//   checkBinding, checkHolder the holder's ID number       registry/ids.py
//   verifyTrustChain          the chain from the genesis   registry/trust/chain.py
//   checkCredentialBundle     a proof bundle, check by     registry/verification/offline.py
//                             check
//
// Verification throws, it never returns a bool: every function below that checks
// something throws a VerificationError naming the step that failed, or resolves.
// Only checkCredentialBundle answers with a list of checks, one per question,
// each {name, ok, detail}; a check that could not be made is not ok and says why.
//
// What checkCredentialBundle does not check, and the page must say so or check it
// elsewhere: the credential's revocation or suspension (the bundle carries no
// status list); and, unless it is given the chain and the pinned genesis digest,
// where the trust list came from (a page that fetched it from the same server
// takes that server's word for it; its "trust list" check then says so).

const textEncoder = new TextEncoder();

/** A check that failed: `step` says which, `message` why. */
export class VerificationError extends Error {
  constructor(step, message) {
    super(message);
    this.name = "VerificationError";
    this.step = step;
  }
}

function fail(step, message) {
  throw new VerificationError(step, message);
}

// ---------------------------------------------------------------------------
// Bytes

function utf8(text) {
  return textEncoder.encode(text);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Lower-case hex of bytes. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 with padding, strictly (as Python's b64decode(validate=True));
 * throws VerificationError(step) for anything else. */
function base64Decode(text, step, what) {
  if (typeof text !== "string" || !STRICT_BASE64.test(text)) fail(step, `${what} is not base64`);
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function base64UrlDecode(text) {
  const standard = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(standard + "=".repeat((4 - (standard.length % 4)) % 4)), (c) =>
    c.charCodeAt(0),
  );
}

async function ed25519Verify(publicKey, signature, message) {
  let key;
  try {
    key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch (error) {
    return false; // not a point on the curve: nothing it could have signed
  }
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  } catch (error) {
    return false;
  }
}

// ---------------------------------------------------------------------------
// 1. RFC 8785 (JCS)

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function canonicalString(text) {
  // A lone surrogate has no UTF-8 form, so no canonical one: refused, as Python does.
  if (LONE_SURROGATE.test(text)) throw new TypeError("a string holds a lone surrogate");
  return JSON.stringify(text);
}

/**
 * The RFC 8785 canonical JSON text of a JSON value (encode it with UTF-8 for the
 * bytes that are signed or logged). JSON.stringify writes numbers and strings as
 * JCS does; object keys are sorted by UTF-16 code units, JavaScript's own order.
 * Throws TypeError for what has no canonical form: a number that is not finite, a
 * lone surrogate, undefined, a function, a cycle.
 */
export function canonicalize(value) {
  const seen = new Set();
  function write(item) {
    if (item === null) return "null";
    switch (typeof item) {
      case "boolean":
        return item ? "true" : "false";
      case "number":
        // Every JavaScript number is an IEEE double, as JCS's numbers are; an integer
        // JSON.parse rounded was rounded before it got here (and then fails its hash).
        if (!Number.isFinite(item)) throw new TypeError(`${item} has no JSON form`);
        return JSON.stringify(item);
      case "string":
        return canonicalString(item);
      case "object": {
        if (seen.has(item)) throw new TypeError("a value holds itself");
        seen.add(item);
        let text;
        if (Array.isArray(item)) {
          text = `[${item.map(write).join(",")}]`;
        } else {
          const prototype = Object.getPrototypeOf(item);
          if (prototype !== Object.prototype && prototype !== null) {
            throw new TypeError("only plain objects and arrays are JSON");
          }
          const keys = Object.keys(item).sort();
          text = `{${keys.map((key) => `${canonicalString(key)}:${write(item[key])}`).join(",")}}`;
        }
        seen.delete(item);
        return text;
      }
      default:
        throw new TypeError(`a ${typeof item} has no JSON form`);
    }
  }
  return write(value);
}

// ---------------------------------------------------------------------------
// 2. Multibase base58btc and Multikey

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BASE58_VALUES = new Map(Array.from(BASE58, (c, i) => [c, i]));
// Keys and signatures are under 100 characters; decoding is quadratic, so anything
// much longer is refused before it is decoded (as registry/crypto/multikey.py does).
const MAX_BASE58 = 255;

/** The bytes of a base58btc (Bitcoin alphabet) string; throws VerificationError. */
export function base58btcDecode(text) {
  if (typeof text !== "string" || text.length === 0) fail("base58", "an empty base58 string");
  if (text.length > MAX_BASE58) fail("base58", `a base58 string longer than ${MAX_BASE58}`);
  const bytes = []; // little-endian
  for (const c of text) {
    let carry = BASE58_VALUES.get(c);
    if (carry === undefined) fail("base58", `${JSON.stringify(c)} is not a base58btc character`);
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  let zeros = 0;
  while (zeros < text.length && text[zeros] === "1") zeros++;
  return concat(new Uint8Array(zeros), Uint8Array.from(bytes.reverse()));
}

/** The bytes of a multibase base58btc value ("z..."); throws VerificationError. */
export function multibaseDecode(value) {
  if (typeof value !== "string" || !value.startsWith("z") || value.length < 2) {
    fail("multibase", "expected a base58btc multibase string starting with 'z'");
  }
  return base58btcDecode(value.slice(1));
}

/** The 32 raw bytes of an Ed25519 Multikey public key ("z6Mk...": multicodec 0xed01
 * and the key); throws VerificationError for any other key. */
export function decodeMultibaseKey(multikey) {
  const data = multibaseDecode(multikey);
  if (data.length !== 34 || data[0] !== 0xed || data[1] !== 0x01) {
    fail("multikey", "not an Ed25519 Multikey (header 0xed01 and 32 key bytes)");
  }
  return data.slice(2);
}

// ---------------------------------------------------------------------------
// 3. eddsa-jcs-2022

const DATETIME_STAMP = /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function parseStamp(value, step, name) {
  const found = typeof value === "string" ? DATETIME_STAMP.exec(value) : null;
  if (found === null) fail(step, `${name} is not an XML Schema dateTimeStamp: ${value}`);
  // A real date and time, as Python's fromisoformat requires: Date.parse alone would
  // take some that are not (the 30th of February, second 60).
  const [year, month, day, hour, minute, second] = value.match(/\d+/g).slice(0, 6).map(Number);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  const moment = Date.parse(value);
  const clock = hour <= 23 && minute <= 59 && second <= 59;
  if (!(day >= 1 && day <= days) || !clock || Number.isNaN(moment)) {
    fail(step, `${name} is not a real date and time: ${value}`);
  }
  return new Date(moment);
}

function withoutMember(object, name) {
  return Object.fromEntries(Object.entries(object).filter(([key]) => key !== name));
}

function sameJson(a, b) {
  return canonicalize(a) === canonicalize(b);
}

/**
 * Verify the one eddsa-jcs-2022 Data Integrity proof of `credential` with the
 * Ed25519 key `publicKeyBytes` (32 raw bytes: the caller decides whose key that
 * is; the verificationMethod URL decides nothing).
 *
 * Options: `expectedPurpose` (default "assertionMethod"), `at` (a Date: an
 * expired proof fails; default now). Resolves to {verificationMethod,
 * proofPurpose, created (a Date or null)}; throws VerificationError whose step
 * names what failed ("proof", "configuration", "context", "proofValue", "key",
 * "canonical", "signature").
 */
export async function verifyDataIntegrityProof(credential, publicKeyBytes, options = {}) {
  const expectedPurpose = options.expectedPurpose ?? "assertionMethod";
  const at = options.at ?? new Date();
  // 1. One proof, an object; a proof set is verified proof by proof, not here.
  if (!isObject(credential)) fail("proof", "the credential is not a JSON object");
  const proof = credential.proof;
  if (proof === undefined) fail("proof", "the credential has no proof");
  if (Array.isArray(proof)) fail("proof", "the credential carries a proof set");
  if (!isObject(proof)) fail("proof", "a proof must be a JSON object");

  // 2. Only DataIntegrityProof with eddsa-jcs-2022; proof chains are refused.
  if (proof.type !== "DataIntegrityProof") {
    fail("configuration", `proof type must be DataIntegrityProof, not ${proof.type}`);
  }
  if (proof.cryptosuite !== "eddsa-jcs-2022") {
    fail("configuration", `cryptosuite must be eddsa-jcs-2022, not ${proof.cryptosuite}`);
  }
  if ("previousProof" in proof) fail("configuration", "proof chains are not accepted");
  const verificationMethod = proof.verificationMethod;
  if (typeof verificationMethod !== "string" || !verificationMethod) {
    fail("configuration", "verificationMethod is missing");
  }
  // 3. The proof must be made for the purpose the verifier expects.
  if (proof.proofPurpose !== expectedPurpose) {
    fail("configuration", `proofPurpose is ${proof.proofPurpose}, expected ${expectedPurpose}`);
  }
  // 4. created and expires, when present, are dateTimeStamps; expired proofs fail.
  const created = "created" in proof ? parseStamp(proof.created, "configuration", "created") : null;
  if ("expires" in proof) {
    const expires = parseStamp(proof.expires, "configuration", "expires");
    if (at >= expires) fail("configuration", `the proof expired at ${proof.expires}`);
  }

  // 5. The proof's @context must be a prefix of the document's; it then replaces it
  // in the unsecured document (vc-di-eddsa §3.3.2, step 4).
  const unsecured = withoutMember(credential, "proof");
  if ("@context" in proof) {
    const proofContext = proof["@context"];
    const documentContext = credential["@context"];
    if (!Array.isArray(proofContext) || !Array.isArray(documentContext)) {
      if (!sameJson(proofContext, documentContext ?? null)) {
        fail("context", "the proof's @context does not match the document's");
      }
    } else if (
      proofContext.length > documentContext.length ||
      !proofContext.every((item, i) => sameJson(item, documentContext[i]))
    ) {
      fail("context", "the document's @context does not start with the proof's");
    }
    unsecured["@context"] = proofContext;
  }

  // 6. proofValue is a base58btc multibase 64-byte signature.
  if (typeof proof.proofValue !== "string") fail("proofValue", "proofValue is missing");
  let signature;
  try {
    signature = multibaseDecode(proof.proofValue);
  } catch (error) {
    fail("proofValue", `proofValue: ${error.message}`);
  }
  if (signature.length !== 64) {
    fail("proofValue", `an Ed25519 signature has 64 bytes, not ${signature.length}`);
  }

  // 7. The key: 32 raw bytes, as the caller resolved them.
  if (!(publicKeyBytes instanceof Uint8Array) || publicKeyBytes.length !== 32) {
    fail("key", "an Ed25519 public key has 32 bytes");
  }

  // 8. hashData = SHA-256(JCS(proof config)) || SHA-256(JCS(unsecured document)).
  const proofConfig = withoutMember(proof, "proofValue");
  let configText, documentText;
  try {
    configText = canonicalize(proofConfig);
    documentText = canonicalize(unsecured);
  } catch (error) {
    fail("canonical", `no canonical JSON form: ${error.message}`);
  }
  const hashData = concat(await sha256(utf8(configText)), await sha256(utf8(documentText)));

  // 9. The signature.
  if (!(await ed25519Verify(publicKeyBytes, signature, hashData))) {
    fail("signature", `the signature by ${verificationMethod} does not match the document`);
  }
  return { verificationMethod, proofPurpose: proof.proofPurpose, created };
}

// ---------------------------------------------------------------------------
// 4. RFC 9162 inclusion proofs

const HASH_BYTES = 32;

/** SHA-256(0x00 || data): the hash of a log leaf (resolves to 32 bytes). */
export async function leafHash(bytes) {
  return sha256(concat(Uint8Array.of(0), bytes));
}

async function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

function treeNumber(value, name) {
  if (typeof value === "bigint") return value;
  if (!Number.isSafeInteger(value)) fail("inclusion", `${name} must be an integer`);
  return BigInt(value);
}

/**
 * Check that `leaf` (a leaf hash) is at `index` in the tree of `size` leaves whose
 * root is `root`, by the audit path `proofHashes` (RFC 9162 §2.1.3.2). Index and
 * size are integers (numbers or BigInts), hashes Uint8Arrays of 32 bytes.
 * Resolves, or throws VerificationError("inclusion", ...).
 */
export async function verifyInclusion(leaf, index, size, proofHashes, root) {
  const hashes = [leaf, root, ...(Array.isArray(proofHashes) ? proofHashes : [null])];
  if (!hashes.every((h) => h instanceof Uint8Array && h.length === HASH_BYTES)) {
    fail("inclusion", "inclusion proof: every hash has 32 bytes");
  }
  let fn = treeNumber(index, "the leaf index");
  let sn = treeNumber(size, "the tree size");
  if (fn < 0n || fn >= sn) fail("inclusion", `leaf ${fn} cannot be in a tree of ${sn} leaves`);
  sn -= 1n;
  let r = leaf;
  for (const p of proofHashes) {
    if (sn === 0n) fail("inclusion", "the inclusion proof is longer than the path");
    if (fn & 1n || fn === sn) {
      r = await nodeHash(p, r);
      while (!(fn & 1n) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail("inclusion", "the inclusion proof is shorter than the path");
  if (!equalBytes(r, root)) {
    fail("inclusion", `leaf ${index} does not lead to the root of size ${size}`);
  }
}

// ---------------------------------------------------------------------------
// 5. C2SP signed notes and checkpoints

const DASH = "\u2014";
const MAX_SIGNATURES = 16;
const DECIMAL = /^(0|[1-9][0-9]{0,18})$/;
const ED25519_TYPE = 0x01;
const COSIGNATURE_TYPE = 0x04;

function checkKeyName(name, step) {
  // Non-empty, no whitespace, no "+", printable (signed-note, "Format").
  if (!name || /[\s+]/u.test(name) || /[\p{C}]/u.test(name)) {
    fail(step, `${JSON.stringify(name)} is not a signed-note key name`);
  }
}

async function noteKeyId(name, type, publicKey) {
  const material = concat(utf8(name), Uint8Array.of(0x0a, type), publicKey);
  return (await sha256(material)).slice(0, 4);
}

/** Parse a verifier key `name+hex key ID+base64(type || 32-byte key)` of the given
 * signature type, checking that its key ID is its own; throws VerificationError. */
async function parseNoteKey(text, type, step) {
  const first = typeof text === "string" ? text.indexOf("+") : -1;
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) fail(step, "a verifier key reads name+keyid+key");
  const name = text.slice(0, first);
  const hexId = text.slice(first + 1, second);
  checkKeyName(name, step);
  if (!/^[0-9a-fA-F]{8}$/.test(hexId)) {
    fail(step, `verifier key ${name}: the key ID is 8 hex digits`);
  }
  const material = base64Decode(text.slice(second + 1), step, `verifier key ${name}`);
  if (material.length !== 33 || material[0] !== type) {
    const kind = type === ED25519_TYPE ? "an Ed25519 (0x01)" : "a cosignature (0x04)";
    fail(step, `verifier key ${name} is not ${kind} key`);
  }
  const publicKey = material.slice(1);
  const keyId = await noteKeyId(name, type, publicKey);
  if (toHex(keyId) !== hexId.toLowerCase()) {
    fail(step, `verifier key ${name}: the key ID does not match the key`);
  }
  return { name, keyId, publicKey };
}

/** A signed note's text (ending in a newline) and its signature lines, each
 * {name, blob}; throws VerificationError("note", ...) if it is not a signed note. */
function splitNote(note) {
  if (typeof note !== "string") fail("note", "a signed note is text");
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) {
    fail("note", "a signed note contains control characters");
  }
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0) fail("note", "a signed note needs a blank line before its signatures");
  const text = note.slice(0, cut + 1);
  const lines = note.slice(cut + 2).split("\n");
  if (lines[lines.length - 1] !== "") fail("note", "a signed note ends in a newline");
  const signatures = lines.slice(0, -1).map((line) => {
    const parts = line.split(" ");
    if (parts.length !== 3 || parts[0] !== DASH || !parts[1]) {
      fail("note", `not a signature line: ${JSON.stringify(line.slice(0, 80))}`);
    }
    return { name: parts[1], blob: base64Decode(parts[2], "note", `a signature of ${parts[1]}`) };
  });
  if (signatures.length === 0 || signatures.length > MAX_SIGNATURES) {
    fail("note", `a signed note carries 1 to ${MAX_SIGNATURES} signatures`);
  }
  return { text, signatures };
}

function cosignedMessage(text, timestamp) {
  return utf8(`cosignature/v1\ntime ${timestamp}\n${text}`);
}

function timestampOf(blob) {
  return new DataView(blob.buffer, blob.byteOffset + 4, 8).getBigUint64(0);
}

async function checkCosignature(key, blob, text, step) {
  const timestamp = blob.length >= 12 ? timestampOf(blob) : 0n;
  if (blob.length !== 4 + 8 + 64 || timestamp <= 0n || timestamp >= 2n ** 63n) {
    fail(step, `the cosignature of ${key.name} is malformed`);
  }
  if (!(await ed25519Verify(key.publicKey, blob.slice(12), cosignedMessage(text, timestamp)))) {
    fail(step, `the cosignature of ${key.name} does not verify`);
  }
  return Number(timestamp);
}

function parseCheckpointBody(text) {
  const lines = text.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "" || lines.slice(0, -1).some((l) => !l)) {
    fail("checkpoint", "a checkpoint is origin, size and root hash, one per line");
  }
  const [origin, sizeText, rootText] = lines;
  if (!DECIMAL.test(sizeText)) {
    fail("checkpoint", `checkpoint size ${JSON.stringify(sizeText.slice(0, 24))} is not decimal`);
  }
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) fail("checkpoint", `a tree size of ${sizeText} is too large`);
  const root = base64Decode(rootText, "checkpoint", "the checkpoint's root hash");
  if (root.length !== HASH_BYTES) fail("checkpoint", "the checkpoint's root hash has 32 bytes");
  return { origin, size, root, extensions: lines.slice(3, -1) };
}

/**
 * Verify a C2SP signed note carrying a tlog-checkpoint of the log `origin`, by the
 * log's verifier key `verifierKey` (`origin+keyid+base64(0x01 || key)`, as the
 * trust list names it). As registry/tlog/checkpoint.py `open_note` does: lines of
 * other keys are ignored; a line of this key (its Ed25519 signature, or its
 * timestamped cosignature, type 0x04) that does not verify rejects the note; at
 * least one Ed25519 signature of the key must verify; the body's origin must be
 * `origin`. Resolves to {origin, size, root (32 bytes), extensions, text,
 * cosignedAt (POSIX seconds of the key's own timestamped line, or null)}; throws
 * VerificationError ("log key", "note", "checkpoint").
 */
export async function verifyCheckpoint(noteText, origin, verifierKey) {
  // 1. The key: well formed, Ed25519, named after the log's origin.
  const key = await parseNoteKey(verifierKey, ED25519_TYPE, "log key");
  if (key.name !== origin) fail("log key", `the log key is named ${key.name}, not ${origin}`);
  const cosignerId = await noteKeyId(key.name, COSIGNATURE_TYPE, key.publicKey);
  // 2. The note and its signature lines.
  const { text, signatures } = splitNote(noteText);
  const message = utf8(text);
  let signed = false;
  let cosignedAt = null;
  for (const { name, blob } of signatures) {
    if (name !== key.name || blob.length < 4) continue; // another key's: ignored
    const id = blob.slice(0, 4);
    if (equalBytes(id, key.keyId)) {
      if (!(await ed25519Verify(key.publicKey, blob.slice(4), message))) {
        fail("note", `the signature of ${name} does not verify`);
      }
      signed = true;
    } else if (equalBytes(id, cosignerId)) {
      cosignedAt = await checkCosignature(key, blob, text, "note");
    }
  }
  if (!signed) fail("note", `no signature of ${key.name} is on the note`);
  // 3. The body: origin, size, root hash.
  const checkpoint = parseCheckpointBody(text);
  if (checkpoint.origin !== origin) {
    fail("checkpoint", `the checkpoint is of ${checkpoint.origin}, not ${origin}`);
  }
  return { ...checkpoint, text, cosignedAt };
}

/**
 * The witnesses (each {name, verifierKey}, a type 0x04 key) whose timestamped
 * cosignature (c2sp.org/tlog-cosignature) of the note's text verifies, as an
 * object name -> POSIX seconds. Lines of other keys are ignored; a named witness's
 * line that does not verify throws VerificationError("witness", ...). The log's
 * own signature is not checked here: verifyCheckpoint does that.
 */
export async function witnessCosignatures(noteText, witnesses) {
  const { text, signatures } = splitNote(noteText);
  const keys = [];
  for (const witness of witnesses) {
    const key = await parseNoteKey(witness.verifierKey, COSIGNATURE_TYPE, "witness");
    if (key.name !== witness.name) fail("witness", `the witness key is named ${key.name}`);
    keys.push(key);
  }
  const found = {};
  for (const { name, blob } of signatures) {
    const key = keys.find((k) => k.name === name && equalBytes(k.keyId, blob.slice(0, 4)));
    if (key !== undefined) found[name] = await checkCosignature(key, blob, text, "witness");
  }
  return found;
}

// ---------------------------------------------------------------------------
// 6. The holder's ID number

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";
const DISCLOSURE_BYTES = 16;

function idCheckCharacter(first17) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i];
  return ID_CHECK[sum % 11];
}

/**
 * A typed resident ID number in its 18-character form, normalised as
 * registry/ids.py does (NFKC, so full-width digits become ASCII; white space
 * removed; upper case, so "x" becomes "X"); a legacy 15-digit number is converted.
 * Throws VerificationError("ID number", ...) for one that cannot be an ID number
 * (length, characters, check character).
 */
export function normaliseIdNumber(value) {
  let number = typeof value === "string" ? value.normalize("NFKC").replace(/\s+/gu, "") : "";
  number = number.toUpperCase();
  if (number.length === 15) {
    if (!/^[0-9]{15}$/.test(number)) fail("ID number", "a 15-digit legacy number has digits only");
    const body = `${number.slice(0, 6)}19${number.slice(6)}`;
    number = body + idCheckCharacter(body);
  } else if (number.length !== 18) {
    fail("ID number", `a resident ID number has 18 characters, not ${number.length}`);
  }
  if (!/^[0-9]{17}[0-9X]$/.test(number)) {
    fail("ID number", "a resident ID number is 17 digits and a digit or X");
  }
  if (number[17] !== idCheckCharacter(number)) {
    fail("ID number", "the check character does not match: a character is mistyped");
  }
  return number;
}

/** The salt of a disclosure (base64url, spaces ignored), as registry/ids.py
 * `parse_disclosure` reads it; throws VerificationError("disclosure", ...). */
export function parseDisclosure(text) {
  const cleaned = typeof text === "string" ? text.normalize("NFKC").replace(/\s/gu, "") : "";
  if (!/^[A-Za-z0-9_-]{22,}$/.test(cleaned)) {
    fail("disclosure", "a disclosure is at least 22 characters of base64url");
  }
  let salt;
  try {
    salt = base64UrlDecode(cleaned);
  } catch (error) {
    fail("disclosure", "a disclosure is base64url");
  }
  if (salt.length < DISCLOSURE_BYTES) fail("disclosure", "a disclosure is too short");
  return salt;
}

/**
 * The holder check: whether the typed ID number `idNumber`, under the holder's
 * `disclosure` (the base64url salt printed on the certificate or carried in the QR
 * code's fragment), gives the credential's `binding` (hex SHA-256(salt || ASCII
 * number)). Resolves, or throws VerificationError with step "ID number",
 * "disclosure" or "holder" (they do not match).
 */
export async function checkBinding(idNumber, disclosure, binding) {
  const number = normaliseIdNumber(idNumber);
  const salt = parseDisclosure(disclosure);
  if (typeof binding !== "string" || !/^[0-9a-f]{64}$/.test(binding)) {
    fail("holder", "the credential's binding is not a hex SHA-256 digest");
  }
  const computed = toHex(await sha256(concat(salt, utf8(number))));
  if (!equalBytes(utf8(computed), utf8(binding))) {
    fail("holder", "the ID number and the disclosure do not match the credential");
  }
}

/**
 * The people a record's credential names, each {position, role, name, masked,
 * binding}, in the order registry/credentials/records.py `named_parties` gives
 * them (positions count organisations too, which carry no binding and are left
 * out). Empty for a credential that is not a record or not in the record format.
 */
export function namedPeople(credential) {
  const subject = isObject(credential) ? credential.credentialSubject : undefined;
  const kind = Array.isArray(credential?.type) ? credential.type : [];
  if (!isObject(subject)) return [];
  let parties;
  if (kind.includes("UntrustworthinessListing")) {
    const listed = subject.listed;
    const related = Array.isArray(subject.relatedPersons) ? subject.relatedPersons : [];
    const first = isObject(listed) && listed.kind === "person" ? [listed, "listed"] : [null, ""];
    parties = [first, ...related.map((p) => [p, isObject(p) ? p.role : ""])];
  } else {
    parties = [[subject.holder, "holder"]];
  }
  const people = [];
  parties.forEach(([party, role], position) => {
    const identifier = isObject(party) ? party.identifier : undefined;
    if (
      isObject(identifier) &&
      identifier.type === "ResidentIdBinding" &&
      typeof identifier.binding === "string"
    ) {
      const { masked, binding } = identifier;
      people.push({ position, role, name: party.name, masked, binding });
    }
  });
  return people;
}

/**
 * The holder check on a whole credential: whether the typed ID number, under the
 * disclosure, is that of a person the credential names (as `registry verify
 * --disclosure` checks). Resolves to that person ({position, role, name, masked});
 * throws VerificationError ("ID number", "disclosure", or "holder": nobody it names).
 */
export async function checkHolder(credential, idNumber, disclosure) {
  const people = namedPeople(credential);
  if (people.length === 0) fail("holder", "the credential names no person");
  for (const person of people) {
    try {
      await checkBinding(idNumber, disclosure, person.binding);
      const { binding, ...shown } = person;
      return shown;
    } catch (error) {
      if (!(error instanceof VerificationError) || error.step !== "holder") throw error;
    }
  }
  fail(
    "holder",
    "the ID number and the disclosure do not match anyone the credential names: check the " +
      "number against the ID card, and that the disclosure is this credential's",
  );
}

// ---------------------------------------------------------------------------
// 7. A whole proof bundle against a trust list

const AUTHORITY_PREFIX = "urn:yrd-registry:authority:";
const CLOCK_SKEW_MS = 5 * 60 * 1000;

function authorityOf(issuer) {
  const id = isObject(issuer) ? issuer.id : issuer;
  if (typeof id === "string" && id.startsWith(AUTHORITY_PREFIX)) {
    const code = id.slice(AUTHORITY_PREFIX.length);
    if (/^CN-[A-Z]{2}$/.test(code)) return code;
  }
  fail("issuer", `issuer ${JSON.stringify(id)} is not a registry authority`);
}

function credentialTypeOf(credential) {
  const types = credential.type;
  if (!Array.isArray(types) || !types.includes("VerifiableCredential")) {
    fail("type", "type must be a list containing VerifiableCredential");
  }
  const specific = types.filter((t) => t !== "VerifiableCredential");
  if (specific.length !== 1 || typeof specific[0] !== "string") {
    fail("type", `not one credential type: ${JSON.stringify(specific)}`);
  }
  return specific[0];
}

function trustMembers(trustList) {
  const members = isObject(trustList) ? trustList.credentialSubject?.members : undefined;
  if (!Array.isArray(members) || !members.every(isObject)) {
    fail("trust list", "the trust list names no members");
  }
  return members;
}

/** The listed key with that verification method, with its member's code. */
function listedKey(members, verificationMethod) {
  for (const member of members) {
    for (const key of Array.isArray(member.issuingKeys) ? member.issuingKeys : []) {
      if (isObject(key) && key.id === verificationMethod) return { key, authority: member.code };
    }
  }
  return null;
}

function keyBytesOf(key) {
  const multibase = key.publicKeyMultibase;
  const raw = decodeMultibaseKey(multibase);
  if (key.id !== `did:key:${multibase}#${multibase}`) {
    fail("issuing key", `${key.id} is not the did:key of its publicKeyMultibase`);
  }
  return raw;
}

function requiredCosignatures(trustList, members, authority) {
  const others = members.filter((m) => m.code !== authority).length;
  const policy = trustList.credentialSubject.witnessPolicy;
  if (policy === undefined || canonicalize(policy) === '{"rule":"majority"}') {
    return Math.floor(others / 2) + 1;
  }
  if (isObject(policy) && policy.rule === "threshold" && Number.isSafeInteger(policy.count)) {
    if (policy.count >= 1) return policy.count;
  }
  fail("witnessed", `an unknown witness policy: ${canonicalize(policy)}`);
}

/**
 * Judge a listed key as registry/credentials/keys.py `key_standing` does: the key of
 * `authority` (null: of any member), allowed `kind`, valid at `signedAt` and not
 * reported compromised by then; with `needsLog`, a key since reported compromised
 * counts only where a checkpoint witnessed (at `witnessedAt`) before the compromise
 * holds the record. Returns a line saying so; throws VerificationError(step).
 */
function keyStanding(found, { authority, kind, signedAt, witnessedAt = null, needsLog, step }) {
  const { key, authority: owner } = found;
  const method = key.id;
  if (authority !== null && owner !== authority) {
    fail(step, `${method} is a key of ${owner}, not of ${authority}`);
  }
  if (!Array.isArray(key.allowedTypes) || !key.allowedTypes.includes(kind)) {
    fail(step, `${method} may not sign ${kind}`);
  }
  const moment = signedAt.toISOString();
  const validFrom = parseStamp(key.validFrom, step, "validFrom");
  if (signedAt < validFrom) {
    fail(step, `${method} was not yet valid at ${moment} (valid from ${key.validFrom})`);
  }
  if (key.validUntil !== undefined) {
    const validUntil = parseStamp(key.validUntil, step, "validUntil");
    if (signedAt >= validUntil) {
      fail(step, `${method} was retired at ${key.validUntil}, before ${moment}`);
    }
  }
  if (key.revocation !== undefined) {
    const since = parseStamp(key.revocation?.compromisedSince, step, "compromisedSince");
    const reason = key.revocation.reason;
    if (signedAt >= since) {
      fail(step, `${method} was reported compromised from ${since.toISOString()} (${reason})`);
    }
    // The signing time is the key holder's claim; only a checkpoint witnessed before
    // the compromise proves the record existed then.
    if (needsLog && (witnessedAt === null || witnessedAt >= since)) {
      fail(
        step,
        `${method} was reported compromised from ${since.toISOString()}, and no checkpoint ` +
          "witnessed before then is shown to include this record",
      );
    }
  }
  return `${owner}'s key ${method.slice(-12)} could sign ${kind} at ${moment}`;
}

/** Verify one proof of `document` (a proof of its set, or its one proof) with the
 * key `members` list under its verificationMethod (the list decides the key, never
 * the URL). Resolves to {verified, found}; throws VerificationError. */
async function signedBy(document, proof, members, at) {
  const method = isObject(proof) ? proof.verificationMethod : undefined;
  const found = listedKey(members, method);
  if (found === null) fail("signature", `${method} is not a key the trust list names`);
  const single = { ...withoutMember(document, "proof"), proof };
  const verified = await verifyDataIntegrityProof(single, keyBytesOf(found.key), { at });
  return { verified, found };
}

/** Judge the key of a verified proof at its created time, which it must state and
 * which may not lie in the future, as registry/credentials/keys.py `verify_signed`
 * does after the signature. Returns a line saying so; throws VerificationError. */
function judgeKey(signed, { authority, kind, at, witnessedAt = null, needsLog, step }) {
  const { verified, found } = signed;
  if (verified.created === null) {
    fail(step, "the proof has no created time, so its key cannot be judged");
  }
  if (verified.created.getTime() > at.getTime() + CLOCK_SKEW_MS) {
    fail(step, `the proof claims to be created in the future (${verified.created.toISOString()})`);
  }
  const signedAt = verified.created;
  return keyStanding(found, { authority, kind, signedAt, witnessedAt, needsLog, step });
}

// ---------------------------------------------------------------------------
// 8. The trust list's chain, from a pinned genesis

const FEDERATION_ID = "urn:yrd-registry:federation";
const TRUST_LIST_TYPE = "TrustList";

/** A trust-list version's digest: hex SHA-256 of its canonical form without proofs
 * (what `previous` names and what a verifier pins for the genesis). */
export async function trustListDigest(document) {
  return toHex(await sha256(utf8(canonicalize(withoutMember(document, "proof")))));
}

function proofsOf(document) {
  const proof = document.proof;
  if (proof === undefined) return [];
  return Array.isArray(proof) ? proof : [proof];
}

function versionOf(document) {
  const number = isObject(document) ? document.credentialSubject?.version : undefined;
  if (!Number.isSafeInteger(number) || number < 1) {
    fail("trust chain", "a document without a version number is not a trust list");
  }
  return number;
}

function trustContent(document) {
  const version = versionOf(document);
  if (
    document.issuer !== FEDERATION_ID ||
    credentialTypeOf(document) !== TRUST_LIST_TYPE ||
    document.id !== `${FEDERATION_ID}:trust-list:${version}` ||
    document.credentialSubject.id !== FEDERATION_ID
  ) {
    fail("trust chain", `version ${version} is not a TrustList of ${FEDERATION_ID}`);
  }
  const members = trustMembers(document);
  const keys = new Map();
  for (const member of members) {
    if (!Array.isArray(member.issuingKeys) || member.issuingKeys.length === 0) {
      fail("trust chain", `version ${version}: member ${member.code} lists no issuing key`);
    }
    for (const key of member.issuingKeys) {
      if (!isObject(key) || keys.has(key.id)) {
        fail("trust chain", `version ${version}: a key listed twice, or not an object`);
      }
      keyBytesOf(key);
      keys.set(key.id, { key, authority: member.code });
    }
  }
  const validFrom = parseStamp(document.validFrom, "trust chain", "validFrom");
  const previous = document.credentialSubject.previous ?? null;
  return { document, version, members, keys, validFrom, previous };
}

function quorumOf(content) {
  const count = content.members.length;
  const majority = Math.floor(count / 2) + 1;
  const quorum = content.document.credentialSubject.quorum;
  if (isObject(quorum) && quorum.rule === "majority" && Object.keys(quorum).length === 1) {
    return majority;
  }
  if (isObject(quorum) && quorum.rule === "threshold" && Number.isSafeInteger(quorum.count)) {
    if (majority <= quorum.count && quorum.count <= count) return quorum.count;
  }
  fail("trust chain", `version ${content.version}: a quorum rule that is not a strict majority`);
}

function checkLink(content, previous, known) {
  const where = `version ${content.version}`;
  if (content.version !== previous.version + 1) {
    fail("trust chain", `${where} does not follow version ${previous.version}`);
  }
  if (content.previous !== previous.digest) {
    fail("trust chain", `${where} names previous ${content.previous}, not ${previous.digest}`);
  }
  if (content.validFrom < previous.validFrom) {
    fail("trust chain", `${where} is valid from before its predecessor`);
  }
  for (const member of previous.members) {
    if (content.members.some((m) => m.code === member.code)) {
      for (const key of member.issuingKeys) {
        if (!content.keys.has(key.id)) fail("trust chain", `${where} drops ${key.id}`);
      }
    }
  }
  // What the chain says of a key can only narrow: otherwise a later version could
  // make signatures valid again that an earlier one had ruled out.
  const time = (value) => (value === undefined ? null : Date.parse(value));
  for (const { key, authority } of content.keys.values()) {
    const old = known.get(key.id);
    if (old === undefined) continue;
    const [was, now] = [old.key, key];
    const narrowed =
      old.authority === authority &&
      time(was.validFrom) === time(now.validFrom) &&
      now.allowedTypes.every((t) => was.allowedTypes.includes(t)) &&
      (was.validUntil === undefined ||
        (now.validUntil !== undefined && time(now.validUntil) <= time(was.validUntil))) &&
      (was.revocation === undefined ||
        (now.revocation !== undefined &&
          time(now.revocation.compromisedSince) <= time(was.revocation.compromisedSince)));
    if (!narrowed) fail("trust chain", `${where} widens what ${key.id} may sign, or when`);
  }
}

/** Count the proofs of `content`'s document that `electorate`'s members made, as
 * registry/trust/chain.py `tally` does; returns the members whose proof counted. */
async function countSigners(content, electorate, notBefore, at) {
  const counted = new Set();
  const values = new Set();
  for (const proof of proofsOf(content.document)) {
    try {
      if (!isObject(proof) || "expires" in proof) continue; // an expiring proof never counts
      const signed = await signedBy(content.document, proof, electorate.members, at);
      const options = { authority: null, kind: TRUST_LIST_TYPE, at, needsLog: false };
      judgeKey(signed, { ...options, step: "trust chain" });
      const { verified, found } = signed;
      // A proof dated before the version it follows took effect would let a retired
      // or revoked key sign as if it were still valid.
      if (notBefore !== null && verified.created < notBefore) continue;
      // A version may report compromised a key that signs it.
      const own = content.keys.get(verified.verificationMethod);
      if (own !== undefined) {
        keyStanding(own, {
          authority: null,
          kind: TRUST_LIST_TYPE,
          signedAt: verified.created,
          needsLog: false,
          step: "trust chain",
        });
      }
      if (values.has(proof.proofValue) || counted.has(found.authority)) continue;
      values.add(proof.proofValue);
      counted.add(found.authority);
    } catch (error) {
      if (!(error instanceof VerificationError)) throw error;
    }
  }
  return counted;
}

/**
 * Walk the trust list's chain (GET /v1/trust-list/chain: every version, in any
 * order) from the genesis whose digest the page pins, as registry/trust/chain.py
 * `verify_chain` does: the genesis signed by every member it lists, each next
 * version by the quorum of the previous one's members with keys it lists as valid
 * then, naming the previous version's digest, and only narrowing what a key it
 * keeps may sign. Resolves to {document, version, digest} of the newest version;
 * throws VerificationError("trust chain", ...) at the first that fails.
 */
export async function verifyTrustChain(documents, genesisDigest, now = new Date()) {
  const at = now instanceof Date ? now : new Date(now);
  if (!Array.isArray(documents) || documents.length === 0) {
    fail("trust chain", "no trust-list version was given");
  }
  // Each version once; copies of one version carry the proofs of all of them.
  const byNumber = new Map();
  for (const document of documents) {
    const number = versionOf(document);
    const held = byNumber.get(number);
    if (held === undefined) {
      byNumber.set(number, document);
    } else if ((await trustListDigest(held)) !== (await trustListDigest(document))) {
      fail("trust chain", `two different documents claim to be version ${number}`);
    } else {
      const proofs = [...proofsOf(held)];
      for (const p of proofsOf(document)) {
        if (!proofs.some((q) => sameJson(p, q))) proofs.push(p);
      }
      byNumber.set(number, { ...withoutMember(held, "proof"), proof: proofs });
    }
  }
  const pinned = String(genesisDigest).trim().toLowerCase();
  const known = new Map();
  let previous = null;
  for (const number of [...byNumber.keys()].sort((a, b) => a - b)) {
    const content = trustContent(byNumber.get(number));
    content.digest = await trustListDigest(content.document);
    const where = `version ${number}`;
    if (previous === null) {
      if (number !== 1) fail("trust chain", `${where} cannot start a chain: genesis is 1`);
      if (content.digest !== pinned) {
        fail("trust chain", `the genesis offered (${content.digest}) is not the pinned ${pinned}`);
      }
    } else {
      checkLink(content, previous, known);
    }
    if (content.validFrom.getTime() > at.getTime() + CLOCK_SKEW_MS) {
      fail("trust chain", `${where} takes effect only at ${content.document.validFrom}`);
    }
    const electorate = previous ?? content;
    const required = previous === null ? content.members.length : quorumOf(previous);
    const notBefore = previous === null ? null : previous.validFrom;
    const signers = await countSigners(content, electorate, notBefore, at);
    if (signers.size < required) {
      const count = `${signers.size} of ${electorate.members.length} members signed`;
      fail("trust chain", `${where}: ${count}, ${required} required`);
    }
    for (const [id, entry] of content.keys) known.set(id, entry);
    previous = content;
  }
  return { document: previous.document, version: previous.version, digest: previous.digest };
}

/**
 * Check a proof bundle (GET /v1/credentials/{id}/proof: credential, authority,
 * leafIndex, treeSize, inclusionProof, checkpoint) against a trust-list document
 * (GET /v1/trust-list) at `now` (a Date, default now), as `registry verify` checks
 * a bundle. With `options` {chain, genesis} (GET /v1/trust-list/chain, and the
 * genesis digest the page pins), the trust list must also be the newest version of
 * that chain, walked from that genesis (verifyTrustChain); without them it is taken
 * as given, and the "trust list" check says so. Resolves to a list of checks, each
 * {name, ok, detail}, in this order:
 *
 *   "trust chain"  (only with options) the chain holds and the trust list is its
 *                  newest version
 *   "credential"   the bundle holds a credential of a registry authority, logged in
 *                  that authority's own log
 *   "trust list"   the trust list names that authority, its log and its keys
 *   "checkpoint"   signed by the log key the trust list names for the authority
 *   "witnessed"    cosigned by the witness policy's number of the other members'
 *                  witnesses (their times date the checkpoint)
 *   "signature"    the eddsa-jcs-2022 proof verifies with the key the trust list
 *                  lists under the proof's verificationMethod
 *   "issuing key"  that key is the issuer's, may sign this type, was valid at the
 *                  proof's created time (which is not in the future) and was not
 *                  reported compromised before it (a key since compromised counts
 *                  only where a checkpoint witnessed before the compromise holds it)
 *   "inclusion"    the leaf SHA-256(0x00 || canonical bytes) is in the checkpoint's
 *                  tree by the inclusion proof
 *
 * Never throws for what it is given: a check that fails, or that cannot be made
 * because an earlier one failed, is {ok: false} with the reason.
 */
export async function checkCredentialBundle(bundle, trustList, now = new Date(), options = {}) {
  const checks = [];
  const at = now instanceof Date ? now : new Date(now);
  const state = {};

  async function run(name, action) {
    try {
      checks.push({ name, ok: true, detail: (await action()) ?? "" });
      return true;
    } catch (error) {
      const detail = error instanceof VerificationError ? error.message : `${error}`;
      checks.push({ name, ok: false, detail });
      return false;
    }
  }

  // What each check leaves for the later ones: a check that needs what a failed one
  // did not leave is not ok either, and names the one it waited for.
  const madeBy = {
    credential: "credential",
    authority: "credential",
    kind: "credential",
    members: "trust list",
    member: "trust list",
    checkpoint: "checkpoint",
    signed: "signature",
  };

  function needs(...names) {
    const missing = [...new Set(names.filter((n) => !(n in state)).map((n) => madeBy[n]))];
    if (missing.length) fail("order", `not checked: the ${missing.join(" and ")} check failed`);
    return names.map((n) => state[n]);
  }

  const walk = options.chain !== undefined || options.genesis !== undefined;
  if (walk) {
    await run("trust chain", async () => {
      const current = await verifyTrustChain(options.chain, options.genesis, at);
      if ((await trustListDigest(trustList)) !== current.digest) {
        fail("trust chain", `the trust list given is not version ${current.version} of the chain`);
      }
      state.chained = current;
      const genesis = String(options.genesis).trim().slice(0, 16);
      return `version ${current.version}, the chain from the pinned genesis ${genesis}... holds`;
    });
  }

  await run("credential", () => {
    if (!isObject(bundle)) fail("credential", "the bundle is not a JSON object");
    const credential = bundle.credential;
    if (!isObject(credential)) fail("credential", "the bundle's credential is not an object");
    const authority = authorityOf(credential.issuer);
    const kind = credentialTypeOf(credential);
    if (bundle.authority !== authority) {
      const logged = `the bundle proves ${bundle.authority}'s log`;
      fail("credential", `${logged}, the credential is ${authority}'s`);
    }
    Object.assign(state, { credential, authority, kind });
    return `${kind} ${credential.id ?? ""} of ${authority}`;
  });

  await run("trust list", () => {
    const [authority] = needs("authority");
    if (walk && !("chained" in state)) fail("order", "not checked: the trust chain check failed");
    const members = trustMembers(trustList);
    const member = members.find((m) => m.code === authority);
    if (member === undefined) fail("trust list", `${authority} is not a member of the trust list`);
    if (!isObject(member.log) || typeof member.log.origin !== "string") {
      fail("trust list", `the trust list names no log of ${authority}`);
    }
    Object.assign(state, { members, member });
    const version = trustList.credentialSubject.version;
    // Without a chain walked from a pinned genesis, the list is whoever sent it's word.
    const given = "chained" in state ? "" : " (as given: no chain walked from a pinned genesis)";
    const names = `its log ${member.log.origin} and its keys`;
    return `version ${version} names ${authority}, ${names}${given}`;
  });

  await run("checkpoint", async () => {
    const [member] = needs("member");
    const { origin, verifierKey } = member.log;
    const checkpoint = await verifyCheckpoint(bundle.checkpoint, origin, verifierKey);
    state.checkpoint = checkpoint;
    return `${checkpoint.origin} at size ${checkpoint.size}, signed by its log key`;
  });

  await run("witnessed", async () => {
    const [members, authority] = needs("members", "authority", "checkpoint");
    const witnesses = members
      .filter((m) => m.code !== authority && isObject(m.witness))
      .map((m) => ({ code: m.code, name: m.witness.name, verifierKey: m.witness.verifierKey }));
    const required = requiredCosignatures(trustList, members, authority);
    const found = await witnessCosignatures(bundle.checkpoint, witnesses);
    const cosigners = witnesses.filter((w) => w.name in found);
    const names = cosigners.map((w) => w.code).sort().join(", ") || "none";
    const described = `${cosigners.length} of ${required} cosignatures (${names})`;
    if (cosigners.length < required) {
      fail(
        "witnessed",
        `below the witness policy: ${described}; a checkpoint only its own log signed can ` +
          "show different histories to different people",
      );
    }
    const times = cosigners.map((w) => found[w.name]).sort((a, b) => a - b);
    state.witnessedAt = new Date(times[required - 1] * 1000);
    return `${described}, the policy's number by ${state.witnessedAt.toISOString()}`;
  });

  await run("signature", async () => {
    const [credential, members] = needs("credential", "members");
    if (!isObject(credential.proof)) fail("signature", "the credential carries no single proof");
    const signed = await signedBy(credential, credential.proof, members, at);
    state.signed = signed;
    const { verified } = signed;
    return `${verified.proofPurpose} proof by ${verified.verificationMethod.slice(-12)} verifies`;
  });

  await run("issuing key", () => {
    const [signed, authority, kind] = needs("signed", "authority", "kind");
    const witnessedAt = "witnessedAt" in state ? state.witnessedAt : null;
    const options = { authority, kind, at, witnessedAt, needsLog: true };
    return judgeKey(signed, { ...options, step: "issuing key" });
  });

  await run("inclusion", async () => {
    const [credential, checkpoint] = needs("credential", "checkpoint");
    const index = bundle.leafIndex;
    const size = bundle.treeSize;
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size)) {
      fail("inclusion", "leaf index and tree size must be integers");
    }
    if (size !== checkpoint.size) {
      fail("inclusion", `the proof is for size ${size}, the checkpoint for ${checkpoint.size}`);
    }
    if (!Array.isArray(bundle.inclusionProof)) {
      fail("inclusion", "the inclusion proof must be a list of base64 hashes");
    }
    const path = bundle.inclusionProof.map((h) => base64Decode(h, "inclusion", "a proof hash"));
    let canonical;
    try {
      canonical = canonicalize(credential);
    } catch (error) {
      fail("inclusion", `the credential has no canonical form: ${error.message}`);
    }
    const leaf = await leafHash(utf8(canonical));
    await verifyInclusion(leaf, index, size, path, checkpoint.root);
    return `leaf ${index} of ${size} leads to the checkpoint's root`;
  });

  return checks;
}
