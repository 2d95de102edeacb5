// The operations page's markup: the page shell and the live snapshot that Server-Sent Events
// replace. Pure functions of the data, so what the browser shows is what the snapshot holds.
import type { CompensationFailedSaga } from '../../monitors/compensation-failed';
import type { DeadLetter, OrderStatsView, OrderView, ProjectionStatus } from '../../projections';
import { type Html, html } from './html';

export interface StockRow {
  productId: string;
  onHand: number;
  reserved: number;
  available: number;
}

export interface OpsSnapshot {
  stats: OrderStatsView;
  latestOrders: OrderView[];
  totalOrders: number;
  stock: StockRow[];
  projections: ProjectionStatus[];
  /** Events set aside by the projections, still parked (the oldest first). */
  deadLetters: DeadLetter[];
  /** Undefined when Temporal visibility could not be read (the error says why). */
  compensationFailed: CompensationFailedSaga[] | undefined;
  compensationFailedError?: string;
  /** Link to a saga in the Temporal UI, when a UI is known. */
  sagaUrl?: (workflowId: string) => string;
  at: Date;
}

const money = (cents: number, currency = 'USD') =>
  `${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`;
const time = (iso: string | Date) => new Date(iso).toISOString().replace('T', ' ').slice(0, 19);

export function renderSnapshot(s: OpsSnapshot): Html {
  const statuses = Object.entries(s.stats) as [string, { count: number; revenueCents: number }][];
  const sagaLink = (workflowId: string, text: string) =>
    s.sagaUrl
      ? html`<a href="${s.sagaUrl(workflowId)}" target="_blank" rel="noopener">${text}</a>`
      : text;
  return html` <section class="cards" aria-label="Orders by status">
      ${statuses.map(
        ([status, v]) =>
          html` <div class="card status-${status}" data-status-card="${status}">
            <h2>${status}</h2>
            <p class="count" data-count>${v.count}</p>
            <p class="revenue">${money(v.revenueCents)}</p>
          </div>`,
      )}
    </section>

    <section aria-label="Latest orders">
      <h2>Latest orders <small>(${s.totalOrders} in all)</small></h2>
      <table id="orders">
        <thead>
          <tr>
            <th>order</th>
            <th>customer</th>
            <th>status</th>
            <th>items</th>
            <th>total</th>
            <th>updated</th>
            <th>saga</th>
          </tr>
        </thead>
        <tbody>
          ${s.latestOrders.map(
            (o) =>
              html` <tr data-order-id="${o.id}" data-status="${o.status}">
                <td class="mono">${o.id}</td>
                <td>${o.customerId}</td>
                <td>
                  <span class="badge status-${o.status}">${o.status}</span>${
                    o.cancellationReason ? html` <small>${o.cancellationReason}</small>` : ''
                  }
                </td>
                <td class="num">${o.itemCount}</td>
                <td class="num">${money(o.totalAmountCents, o.currency)}</td>
                <td>${time(o.updatedAt)}</td>
                <td>${sagaLink(`order-${o.id}`, 'Temporal UI ↗')}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>

    <div class="columns">
      <section aria-label="Sagas in compensation_failed">
        <h2>Sagas in compensation_failed</h2>
        ${
          s.compensationFailed === undefined
            ? html`<p class="error">
                Temporal visibility unavailable: ${s.compensationFailedError ?? 'unknown error'}
              </p>`
            : s.compensationFailed.length === 0
              ? html`<p class="ok" id="no-compensation-failed">none</p>`
              : html` <table id="compensation-failed">
                  <thead>
                    <tr>
                      <th>saga</th>
                      <th>customer</th>
                      <th>started</th>
                      <th></th>
                    </tr>
                  </thead>
                  <tbody>
                    ${s.compensationFailed.map(
                      (c) =>
                        html` <tr data-saga-order-id="${c.orderId}">
                          <td class="mono">${sagaLink(c.workflowId, c.workflowId)}</td>
                          <td>${c.customerId ?? ''}</td>
                          <td>${time(c.startTime)}</td>
                          <td>
                            <button
                              type="button"
                              hx-post="/ops/orders/${encodeURIComponent(c.orderId)}/retry-compensation"
                              hx-target="#flash"
                              hx-swap="innerHTML"
                            >
                              Retry compensation
                            </button>
                          </td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
        }
      </section>

      <section aria-label="Stock per product">
        <h2>Stock per product</h2>
        <table id="stock">
          <thead>
            <tr>
              <th>product</th>
              <th>on hand</th>
              <th>reserved</th>
              <th>available</th>
            </tr>
          </thead>
          <tbody>
            ${s.stock.map(
              (p) =>
                html` <tr
                  data-product-id="${p.productId}"
                  class="${p.available === 0 ? 'empty' : ''}"
                >
                  <td class="mono">${p.productId}</td>
                  <td class="num">${p.onHand}</td>
                  <td class="num">${p.reserved}</td>
                  <td class="num" data-available>${p.available}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </section>
    </div>

    <section aria-label="Projections">
      <h2>Projections</h2>
      <table id="projections">
        <thead>
          <tr>
            <th>projection</th>
            <th>status</th>
            <th>position</th>
            <th>lag (events)</th>
            <th>lag (s)</th>
            <th>set aside</th>
            <th>last error</th>
          </tr>
        </thead>
        <tbody>
          ${s.projections.map(
            (p) =>
              html` <tr data-projection="${p.name}" data-projection-status="${p.status}">
                <td>${p.name}</td>
                <td><span class="badge projection-${p.status}">${p.status}</span></td>
                <td class="num">${p.globalPosition}</td>
                <td class="num" data-lag>${p.lagEvents}</td>
                <td class="num">${p.lagSeconds.toFixed(1)}</td>
                <td class="num" data-dead-letters>${p.deadLetters}</td>
                <td class="error">${p.lastError ?? ''}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      ${
        s.deadLetters.length === 0
          ? html``
          : html`<h3>Events set aside</h3>
              <p>
                Retry one with <code>npm run projections -- retry ID</code>, or drop it with
                <code>skip ID</code>.
              </p>
              <table id="dead-letters">
                <thead>
                  <tr>
                    <th>id</th>
                    <th>projection</th>
                    <th>event</th>
                    <th>attempts</th>
                    <th>error</th>
                  </tr>
                </thead>
                <tbody>
                  ${s.deadLetters.map(
                    (d) =>
                      html`<tr data-dead-letter="${d.id}">
                        <td class="num">${d.id}</td>
                        <td>${d.projection}</td>
                        <td>${d.globalPosition} ${d.eventType} ${d.stream} v${d.version}</td>
                        <td class="num">${d.attempts}</td>
                        <td class="error">${d.error}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
      }
    </section>
    <p class="stamp">
      snapshot at <time data-snapshot-at="${s.at.toISOString()}">${time(s.at)} UTC</time>
    </p>`;
}

export function renderPage(snapshot: Html): Html {
  // htmx swaps 4xx answers too (the retry button shows why it was refused).
  const htmxConfig = JSON.stringify({
    responseHandling: [
      { code: '204', swap: false },
      { code: '[2345]..', swap: true },
    ],
  });
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content="${htmxConfig}" />
        <title>Operations · order sagas</title>
        <link rel="stylesheet" href="/ops/assets/ops.css" />
        <script src="/ops/assets/htmx.min.js"></script>
        <script src="/ops/assets/sse.min.js"></script>
        <script src="/ops/assets/ops.js"></script>
      </head>
      <body>
        <header>
          <h1>Order sagas · operations</h1>
          <span id="live" class="live" data-live="connecting">connecting…</span>
          <label class="token"
            >API token
            <input
              id="token"
              type="password"
              autocomplete="off"
              placeholder="for retries, when API_TOKEN is set"
          /></label>
        </header>
        <div id="flash" role="status"></div>
        <main hx-ext="sse" sse-connect="/ops/events">
          <div id="snapshot" sse-swap="snapshot">${snapshot}</div>
        </main>
      </body>
    </html>`;
}
