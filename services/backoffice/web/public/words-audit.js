/** Filled below. */
export const en = {};
export const zh = {};
