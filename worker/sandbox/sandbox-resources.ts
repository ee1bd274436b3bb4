/**
 * The sizes a new sandbox gets (pure). The Worker's SANDBOX_INSTANCE_TYPE is the default, the
 * same instance type its production containers entry names. Locally a create may name another
 * type or sizes of its own, refused when the machine cannot give them; the default itself is
 * shrunk to the machine, so a small one still starts sandboxes. On Cloudflare every container of
 * the class has the class's instance type, so asking for another is an error that says so.
 */
import {
  ErrorCode,
  INSTANCE_TYPES,
  SandboxError,
  checkFitsHost,
  checkInstanceType,
  chooseResources,
  fitToHost,
  parseResourceRequest,
  type ChosenResources,
  type HostCapacity,
  type InstanceTypeName,
  type SandboxCreateOptions,
} from '../protocol/index';

/** Cloudflare's own default when a containers entry names no instance_type. */
export const PLATFORM_DEFAULT_INSTANCE_TYPE: InstanceTypeName = 'lite';

/** SANDBOX_INSTANCE_TYPE, or Cloudflare's default; a value that names no type is the Worker's fault, said as such. */
export function configuredInstanceType(value: string | undefined): InstanceTypeName {
  if (!value) return PLATFORM_DEFAULT_INSTANCE_TYPE;
  try {
    return checkInstanceType(value);
  } catch (err) {
    throw new SandboxError(
      ErrorCode.INTERNAL_ERROR,
      `The Worker's SANDBOX_INSTANCE_TYPE ('${value.slice(0, 40)}') is not an instance type: set it in wrangler.jsonc to one of ${Object.keys(INSTANCE_TYPES).join(', ')}`,
      { cause: (err as Error).message },
    );
  }
}

export interface NewSandboxInput {
  /** SANDBOX_INSTANCE_TYPE */
  configured: string | undefined;
  /** On Cloudflare's containers (no sizes of its own per sandbox). */
  platform: boolean;
  /** The create's options, as they came (RPC callers send anything). */
  options: SandboxCreateOptions;
  /** Locally: what one sandbox can get on this machine. */
  capacity?: HostCapacity;
}

export function resourcesForNewSandbox({ configured, platform, options, capacity }: NewSandboxInput): ChosenResources {
  const type = configuredInstanceType(configured);
  const request = parseResourceRequest({ instanceType: options.instanceType, resources: options.resources });
  const asked = request.instanceType !== undefined || request.resources !== undefined;
  if (platform) {
    if ((request.instanceType && request.instanceType !== type) || request.resources) {
      throw new SandboxError(
        ErrorCode.INVALID_REQUEST,
        `On Cloudflare every sandbox of this Worker is a ${type} container (its containers entry's instance_type, and SANDBOX_INSTANCE_TYPE): instanceType and resources can be chosen per sandbox only locally`,
      );
    }
    return chooseResources(type, {});
  }
  const chosen = chooseResources(type, request);
  if (!capacity) return chosen;
  if (asked) {
    checkFitsHost(chosen, capacity);
    return chosen;
  }
  return { ...chosen, resources: fitToHost(chosen.resources, capacity) };
}
