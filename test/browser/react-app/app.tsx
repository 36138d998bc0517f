/**
 * A small React chat built only on `useScrollback` (test/browser/react.test.ts
 * bundles it with esbuild and opens it in Chromium). `?server=` and `?user=`
 * say where to connect and as whom (dev mode).
 */
import { connect, type ScrollbackClient } from "@scrollback/client";
import { useScrollback } from "@scrollback/client/react";
import { type FormEvent, StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";

/** How often the chat rendered: a snapshot that changed identity on every read would make this run away. */
const renders = { count: 0 };
(window as unknown as { renders: typeof renders }).renders = renders;

function Chat({ client }: { client: ScrollbackClient }) {
  const { status, messages, pending } = useScrollback(client);
  const [text, setText] = useState("");
  renders.count++;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!text) return;
    // A refusal shows as a failed pending entry; the promise needs no handler of its own.
    client.add({ content: text }).catch(() => {});
    setText("");
  };
  return (
    <main>
      <p data-testid="status" data-status={status}>
        {status}
      </p>
      <ol data-testid="messages">
        {messages.map((message) => (
          <li key={message.id} data-testid="message">
            {message.content}
          </li>
        ))}
      </ol>
      <ol data-testid="pending-list">
        {pending.map((entry) => (
          <li key={entry.id} data-testid="pending" data-state={entry.state} data-error={entry.error?.code ?? ""}>
            <span className="content">{entry.content}</span>{" "}
            <span className="state">{entry.error ? `${entry.state}: ${entry.error.code}` : entry.state}</span>
            {entry.state === "failed" && (
              <button type="button" onClick={() => client.dismiss(entry.id)}>
                dismiss
              </button>
            )}
          </li>
        ))}
      </ol>
      <form onSubmit={submit}>
        <input data-testid="composer" value={text} onChange={(event) => setText(event.target.value)} />
        <button data-testid="send" type="submit">
          send
        </button>
      </form>
    </main>
  );
}

const query = new URLSearchParams(location.search);
const client = connect(query.get("server") ?? location.origin, {
  userId: query.get("user") ?? "react_user",
  backoff: { initialMs: 50, maxMs: 300 },
  ackTimeoutMs: 3_000,
});
const root = document.getElementById("root");
if (!root) throw new Error("no #root");
createRoot(root).render(
  <StrictMode>
    <Chat client={client} />
  </StrictMode>,
);
