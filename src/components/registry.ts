import { AppError } from '../common/app-error.js';
import type { Component, ComponentAction } from './component.js';

/** The components Credence knows, looked up by key. */
export const createComponentRegistry = (components: readonly Component[]) => {
  const byKey = new Map(components.map((component) => [component.key, component]));

  const get = (key: string): Component => {
    const component = byKey.get(key);
    if (!component) throw new AppError('VALIDATION_FAILED', `Unknown component ${JSON.stringify(key)}; use one of ${[...byKey.keys()].join(', ')}`);
    return component;
  };

  return {
    list: (): readonly Component[] => components,
    get,
    /** An action of a component; `undefined` action means the component's test action. */
    action(componentKey: string, actionKey?: string): ComponentAction {
      const component = get(componentKey);
      const key = actionKey ?? component.testAction;
      const action = component.actions.find((a) => a.key === key);
      if (!action) {
        throw new AppError('VALIDATION_FAILED', `${component.key} has no action ${JSON.stringify(key)}; use one of ${component.actions.map((a) => a.key).join(', ')}`);
      }
      return action;
    },
  };
};

export type ComponentRegistry = ReturnType<typeof createComponentRegistry>;
