/**
 * The sidebar's TreeDataProvider: a thin copy of the plain nodes from core/tree-model. Automatic
 * updates (events, polls) are debounced; a manual refresh is immediate.
 */
import * as vscode from 'vscode';
import { buildTree, walk, type TreeNode, type TreeOptions } from './core/tree-model';
import type { WorldState } from './core/state-reducer';

export interface TreeSource {
  world: WorldState;
  options: TreeOptions;
}

export const VIEW_ID = 'sandboxPorts.sandboxes';
const DEBOUNCE_MS = 500;

/** Commands a tooltip may link to. */
const TOOLTIP_COMMANDS = ['sandboxPorts.showLogs', 'sandboxPorts.openPreview', 'sandboxPorts.copyUrl', 'sandboxPorts.exposePort'];

export class SandboxTree implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private roots: TreeNode[] = [];
  private parents = new Map<string, TreeNode>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly source: () => TreeSource;
  private view: vscode.TreeView<TreeNode> | undefined;

  constructor(source: () => TreeSource) {
    this.source = source;
  }

  /** The view showing this tree: nodes that gain children are expanded in it. */
  attach(view: vscode.TreeView<TreeNode>): void {
    this.view = view;
  }

  /** The nodes as last built (for commands that pick, and for tests). */
  get nodes(): readonly TreeNode[] {
    return this.roots;
  }

  /** Automatic updates: at most one rebuild per 500 ms. */
  scheduleRefresh(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refreshNow();
    }, DEBOUNCE_MS);
  }

  refreshNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const { world, options } = this.source();
    const before = new Map(walk(this.roots).map((n) => [n.id, n.children.length]));
    this.roots = buildTree(world, options);
    this.parents = new Map();
    for (const n of walk(this.roots)) for (const c of n.children) this.parents.set(c.id, n);
    this.changed.fire(undefined);
    // VS Code keeps a row that had no children collapsed once it gains some; a process that starts
    // listening must show its port, so open such rows (without selecting or taking focus).
    const grown = walk(this.roots).filter((n) => before.get(n.id) === 0 && n.children.length > 0);
    if (this.view?.visible) for (const n of grown) void this.view.reveal(n, { expand: true, select: false, focus: false }).then(undefined, () => {});
  }

  getChildren(node?: TreeNode): TreeNode[] {
    return node ? node.children : this.roots;
  }

  getParent(node: TreeNode): TreeNode | undefined {
    return this.parents.get(node.id);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.label, collapsible(node.collapsible));
    item.id = node.id;
    item.description = node.description;
    item.contextValue = node.contextValue;
    item.iconPath = new vscode.ThemeIcon(node.icon.id, node.icon.color ? new vscode.ThemeColor(node.icon.color) : undefined);
    if (node.command) item.command = node.command;
    return item;
  }

  /** Tooltips are Markdown, built only when hovered. */
  resolveTreeItem(item: vscode.TreeItem, node: TreeNode): vscode.TreeItem {
    const tooltip = new vscode.MarkdownString(node.tooltip, true);
    tooltip.isTrusted = { enabledCommands: TOOLTIP_COMMANDS };
    item.tooltip = tooltip;
    return item;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.changed.dispose();
  }
}

function collapsible(value: TreeNode['collapsible']): vscode.TreeItemCollapsibleState {
  if (value === 'expanded') return vscode.TreeItemCollapsibleState.Expanded;
  if (value === 'collapsed') return vscode.TreeItemCollapsibleState.Collapsed;
  return vscode.TreeItemCollapsibleState.None;
}
