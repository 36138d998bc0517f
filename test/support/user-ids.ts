/**
 * User ids of every length class the protocol allows (1–128 of
 * `A–Z a–z 0–9 _ . @ : -`), with the lengths around the one that once made
 * a room name of 20 characters, which the sharded Redis adapter takes for a
 * socket id (see server/src/realtime/rooms.ts).
 */
function idOfLength(length: number, stem: string): string {
  return (stem + "_".repeat(length)).slice(0, length - 2) + String(length % 100).padStart(2, "0");
}

/** Ids of lengths 1, 14, 15, 16, 128, and of 15 and 9 with `. @ : -` in them; `tag` keeps tests apart. */
export function userIdsOfEveryLength(tag: string): string[] {
  return [
    tag.slice(0, 1),
    idOfLength(14, tag),
    idOfLength(15, tag),
    idOfLength(16, tag),
    idOfLength(128, tag),
    idOfLength(15, "a.b@c:d-e"),
    `${tag.slice(0, 1)}.@:-id`,
  ];
}
