/**
 * The entries of a zip archive whose entries are stored (not compressed), as `torch.save`
 * writes them. Entries are views into the file's bytes (no copy). Every offset and size is
 * checked against the file before use, so a truncated or lying archive is a clear
 * {@link FormatError}, never an out-of-bounds read, a giant allocation or a long loop.
 */
import { FormatError } from '../errors.js';

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const CENTRAL_FILE_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
const END_RECORD_SIZE = 22;
const MAX_COMMENT_SIZE = 0xffff;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const ZIP64_EXTRA_ID = 0x0001;
const U32_MAX = 0xffffffff;
const STORED = 0;

/** True when `bytes` starts like a zip archive (a local file header). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * Entry name → entry bytes (views into `bytes`) of a stored-entry zip. `file` names the archive
 * in errors. Throws {@link FormatError} on a truncated archive, an entry outside the file, a
 * compressed entry, or an ambiguous one (two entries of one name, or a local header naming
 * another file than the directory does).
 */
export function readStoredZipEntries(bytes: Uint8Array, file: string): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  function fail(message: string): never {
    throw new FormatError(`${file}: ${message}`);
  }
  const end = findEndRecord(view);
  if (end < 0) fail('not a complete zip archive (no end-of-central-directory record: the file is truncated or not a zip)');

  let count = view.getUint16(end + 10, true);
  let directorySize = view.getUint32(end + 12, true);
  let directoryOffset = view.getUint32(end + 16, true);
  const locator = end - 20;
  if (locator >= 0 && view.getUint32(locator, true) === ZIP64_END_LOCATOR) {
    const zip64End = Number(view.getBigUint64(locator + 8, true));
    if (zip64End + 56 > locator || view.getUint32(zip64End, true) !== ZIP64_END_OF_CENTRAL_DIRECTORY) {
      fail('zip64 end-of-central-directory record is missing or outside the file');
    }
    count = Number(view.getBigUint64(zip64End + 32, true));
    directorySize = Number(view.getBigUint64(zip64End + 40, true));
    directoryOffset = Number(view.getBigUint64(zip64End + 48, true));
  }
  if (directoryOffset + directorySize > bytes.length || count * CENTRAL_HEADER_SIZE > directorySize) {
    fail(`zip central directory (${count} entries, ${directorySize} bytes at ${directoryOffset}) does not fit in the file (${bytes.length} bytes): truncated?`);
  }

  const entries = new Map<string, Uint8Array>();
  let at = directoryOffset;
  const directoryEnd = directoryOffset + directorySize;
  const decoder = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_HEADER_SIZE > directoryEnd || view.getUint32(at, true) !== CENTRAL_FILE_HEADER) {
      fail(`zip central directory entry ${i} is malformed`);
    }
    const method = view.getUint16(at + 10, true);
    let size = view.getUint32(at + 20, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let localOffset = view.getUint32(at + 42, true);
    const next = at + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
    if (next > directoryEnd) fail(`zip central directory entry ${i} runs past the directory`);
    const name = decoder.decode(bytes.subarray(at + CENTRAL_HEADER_SIZE, at + CENTRAL_HEADER_SIZE + nameLength));
    if (size === U32_MAX || localOffset === U32_MAX) {
      const uncompressed = view.getUint32(at + 24, true);
      const zip64 = readZip64Extra(view, at + CENTRAL_HEADER_SIZE + nameLength, extraLength, {
        uncompressed: uncompressed === U32_MAX,
        compressed: size === U32_MAX,
        offset: localOffset === U32_MAX,
      });
      if (!zip64) fail(`zip entry ${name} needs a zip64 extra field and has none`);
      size = zip64.compressed ?? size;
      localOffset = zip64.offset ?? localOffset;
    }
    if (method !== STORED) fail(`zip entry ${name} is compressed (method ${method}); torch.save writes stored entries only`);
    if (entries.has(name)) fail(`zip archive holds two entries named ${name}: ambiguous, refused (which one a reader takes differs between readers)`);
    if (localOffset + LOCAL_HEADER_SIZE > bytes.length || view.getUint32(localOffset, true) !== LOCAL_FILE_HEADER) {
      fail(`zip entry ${name}: local header at ${localOffset} is missing or outside the file (truncated?)`);
    }
    const localNameLength = view.getUint16(localOffset + 26, true);
    const dataStart = localOffset + LOCAL_HEADER_SIZE + localNameLength + view.getUint16(localOffset + 28, true);
    if (dataStart + size > bytes.length) {
      fail(`zip entry ${name} claims ${size} bytes at ${dataStart} but the file has ${bytes.length} bytes (truncated?)`);
    }
    const localName = bytes.subarray(localOffset + LOCAL_HEADER_SIZE, localOffset + LOCAL_HEADER_SIZE + localNameLength);
    if (decoder.decode(localName) !== name) fail(`zip entry ${name}: its local header names it ${JSON.stringify(decoder.decode(localName))}: ambiguous, refused`);
    entries.set(name, bytes.subarray(dataStart, dataStart + size));
    at = next;
  }
  return entries;
}

/** Offset of the end-of-central-directory record, searching back over a possible comment; -1 if none. */
function findEndRecord(view: DataView): number {
  const last = view.byteLength - END_RECORD_SIZE;
  const first = Math.max(0, last - MAX_COMMENT_SIZE);
  for (let at = last; at >= first; at--) {
    if (view.getUint32(at, true) === END_OF_CENTRAL_DIRECTORY && at + END_RECORD_SIZE + view.getUint16(at + 20, true) === view.byteLength) {
      return at;
    }
  }
  return -1;
}

/** The 64-bit fields of a zip64 extra block, present in this order only for the fields that overflowed. */
function readZip64Extra(
  view: DataView,
  start: number,
  length: number,
  present: { uncompressed: boolean; compressed: boolean; offset: boolean },
): { compressed?: number; offset?: number } | undefined {
  for (let at = start; at + 4 <= start + length; ) {
    const id = view.getUint16(at, true);
    const size = view.getUint16(at + 2, true);
    if (id === ZIP64_EXTRA_ID) {
      const fields: { compressed?: number; offset?: number } = {};
      let field = at + 4;
      const end = Math.min(at + 4 + size, start + length);
      const next = (): number | undefined => {
        if (field + 8 > end) return undefined;
        const value = Number(view.getBigUint64(field, true));
        field += 8;
        return value;
      };
      if (present.uncompressed) next();
      if (present.compressed) fields.compressed = next();
      if (present.offset) fields.offset = next();
      return fields;
    }
    at += 4 + size;
  }
  return undefined;
}
