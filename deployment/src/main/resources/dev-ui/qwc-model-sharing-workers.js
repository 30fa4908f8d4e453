import { QwcHotReloadElement, html, css } from 'qwc-hot-reload-element';
import { JsonRpc } from 'jsonrpc';
import { notifier } from 'notifier';
import '@vaadin/button';
import '@vaadin/progress-bar';

/**
 * The workers page: each worker's process, device, queue, restarts and health, with a restart action for managed
 * workers. It reads the pool again every two seconds while it is shown, and after a restart.
 */
export class QwcModelSharingWorkers extends QwcHotReloadElement {

    jsonRpc = new JsonRpc(this);

    static styles = css`
        :host { display: block; padding: 10px 20px; }
        table { border-collapse: collapse; width: 100%; font-size: var(--lumo-font-size-s); }
        th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--lumo-contrast-10pct); }
        th { color: var(--lumo-secondary-text-color); font-weight: 600; }
        td.number { text-align: right; font-variant-numeric: tabular-nums; }
        .up { color: var(--lumo-success-text-color); }
        .down { color: var(--lumo-error-text-color); }
        .message { padding: 10px 0; color: var(--lumo-secondary-text-color); }
    `;

    static properties = {
        _workers: { state: true },
        _message: { state: true }
    };

    connectedCallback() {
        super.connectedCallback();
        this.hotReload();
        this._timer = setInterval(() => this.hotReload(), 2000);
    }

    disconnectedCallback() {
        clearInterval(this._timer);
        super.disconnectedCallback();
    }

    hotReload() {
        this.jsonRpc.getWorkers().then(response => this._workers = response.result);
    }

    render() {
        if (!this._workers) {
            return html`<vaadin-progress-bar indeterminate></vaadin-progress-bar>`;
        }
        if (this._workers.length === 0) {
            return html`<div class="message">No worker: every model runs in process. Place one in workers with
                quarkus.model-sharing.models."name".placement=worker</div>`;
        }
        return html`
            <table id="workers">
                <tr>
                    <th>Worker</th><th>Device</th><th>Pid</th><th>Models</th><th>Queue</th><th>Runs</th>
                    <th>Restarts</th><th>Health</th><th></th>
                </tr>
                ${this._workers.map(worker => this._row(worker))}
            </table>
            <div class="message" id="message">${this._message ?? ''}</div>`;
    }

    _row(worker) {
        const up = worker.state === 'up';
        const managed = worker.device !== 'external';
        return html`<tr data-worker="${worker.name}">
            <td><b>${worker.name}</b></td>
            <td>${worker.device}</td>
            <td class="number">${worker.pid >= 0 ? worker.pid : ''}</td>
            <td>${worker.status.models ?? ''}</td>
            <td class="number">${worker.status.queue ?? ''}</td>
            <td class="number">${worker.status.runs ?? ''}</td>
            <td class="number">${worker.restarts}</td>
            <td class="${up ? 'up' : 'down'}">${worker.state}</td>
            <td>${managed ? html`<vaadin-button theme="small" id="restart-${worker.name}"
                @click=${() => this._restart(worker.name)}>Restart</vaadin-button>` : ''}</td>
        </tr>`;
    }

    _restart(name) {
        this.jsonRpc.restartWorker({ name: name }).then(response => {
            const result = response.result;
            this._message = result.message;
            if (result.done) {
                notifier.showSuccessMessage(result.message);
            } else {
                notifier.showWarningMessage(result.message);
            }
            this.hotReload();
        });
    }
}

customElements.define('qwc-model-sharing-workers', QwcModelSharingWorkers);
