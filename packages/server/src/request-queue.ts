// One stream's requests are handled strictly in order, async hooks awaited in between. While nothing async is
// pending a request is handled synchronously: a plain ACK costs no promise.

/** Runs `work` after every earlier work of the queue; a throw or rejection goes to `fail`. */
export type RequestQueue = (work: () => void | Promise<void>) => void;

export function createRequestQueue(fail: (error: unknown) => void): RequestQueue {
  let pending: Promise<void> | undefined;
  const chain = (promise: Promise<void>) => {
    const tail: Promise<void> = promise.catch(fail).then(() => {
      if (pending === tail) pending = undefined;
    });
    pending = tail;
  };
  return (work) => {
    if (pending) return chain(pending.then(work));
    let result: void | Promise<void>;
    try {
      result = work();
    } catch (error) {
      return fail(error);
    }
    if (result) chain(result);
  };
}
