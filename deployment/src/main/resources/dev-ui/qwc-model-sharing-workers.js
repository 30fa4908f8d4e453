import { html, css } from 'qwc-hot-reload-element';
import { QwcModelSharingPage, pageStyles } from './qwc-model-sharing-page.js';
import '@vaadin/button';
import '@vaadin/progress-bar';

/**
 * The workers page: each worker's process, device, queue, restarts and health, with a restart action for managed
 * workers. It reads the pool again every two seconds while it is shown, and after a restart.
 */
export class QwcModelSharingWorkers extends QwcModelSharingPage {

    static styles = [pageStyles, css`
        table { width: 100%; }
        .up { color: var(--lumo-success-text-color); }
        .down { color: var(--lumo-error-text-color); }
    `];

    static properties = {
        _workers: { state: true }
    };

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
                @click=${() => this._act('restartWorker', { name: worker.name })}>Restart</vaadin-button>` : ''}</td>
        </tr>`;
    }
}

customElements.define('qwc-model-sharing-workers', QwcModelSharingWorkers);
