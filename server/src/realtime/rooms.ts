/** Each user's connections share one room, on every replica. */
export function userRoom(userId: string): string {
  return `user:${userId}`;
}
