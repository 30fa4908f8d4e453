import { html, css } from 'qwc-hot-reload-element';
import { QwcModelSharingPage, pageStyles, bytes } from './qwc-model-sharing-page.js';
import '@vaadin/button';
import '@vaadin/progress-bar';

/**
 * The models page: each configured model, where it runs and how it is used, with reload and evict.
 * It reads the registry again every two seconds while it is shown, and after each action.
 */
export class QwcModelSharingModels extends QwcModelSharingPage {

    static styles = [pageStyles, css`
        table { width: 100%; }
        .loaded { color: var(--lumo-success-text-color); }
        .failed { color: var(--lumo-error-text-color); }
        .source { color: var(--lumo-secondary-text-color); font-size: var(--lumo-font-size-xs); }
        .actions { display: flex; gap: 6px; }
    `];

    static properties = {
        _models: { state: true }
    };

    hotReload() {
        this.jsonRpc.getModels().then(response => this._models = response.result);
    }

    render() {
        if (!this._models) {
            return html`<vaadin-progress-bar indeterminate></vaadin-progress-bar>`;
        }
        if (this._models.length === 0) {
            return html`<div class="message">No model is configured: add one with quarkus.model-sharing.models."name".path</div>`;
        }
        return html`
            <table id="models">
                <tr>
                    <th>Model</th><th>Placement</th><th>State</th><th>Memory</th><th>Hits</th><th>Misses</th>
                    <th>Loads</th><th>Evictions</th><th>Open handles</th><th>Last load</th><th></th>
                </tr>
                ${this._models.map(model => this._row(model))}
            </table>
            <div class="message" id="message">${this._message ?? ''}</div>`;
    }

    _row(model) {
        const inProcess = model.placement === 'in-process';
        return html`<tr data-model="${model.name}">
            <td><b>${model.name}</b><div class="source">${model.source}</div></td>
            <td>${model.placement}</td>
            <td class="${model.state}" title="${model.failure ?? ''}">${model.state}${model.failure ? html`: ${model.failure}` : ''}</td>
            <td class="number">${inProcess ? bytes(model.bytes) : ''}</td>
            <td class="number">${inProcess ? model.hits : ''}</td>
            <td class="number">${inProcess ? model.misses : ''}</td>
            <td class="number">${inProcess ? model.loads : ''}</td>
            <td class="number">${inProcess ? model.evictions : ''}</td>
            <td class="number">${inProcess ? model.liveHandles : ''}</td>
            <td class="number">${inProcess && model.loads > 0 ? model.lastLoadMillis + ' ms' : ''}</td>
            <td class="actions">${inProcess ? html`
                <vaadin-button theme="small" id="reload-${model.name}" @click=${() => this._act('reload', { name: model.name })}>Reload</vaadin-button>
                <vaadin-button theme="small" id="evict-${model.name}" @click=${() => this._act('evict', { name: model.name })}>Evict</vaadin-button>` : ''}
            </td>
        </tr>`;
    }
}

customElements.define('qwc-model-sharing-models', QwcModelSharingModels);
