/**
 * The durable write steps moved to src/core/durable-fs.ts so that the token store (src/auth)
 * shares them; the spool keeps importing them from here.
 */
export { DIRECTORY_FSYNC, fsyncDirectory, isNotFound, removeFile, moveDurable, PRIVATE_FILE_MODE, writeFileDurable, writeFileSynced } from '../core/durable-fs.js';
