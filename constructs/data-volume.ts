import { Volume } from '@cdktf/provider-docker/lib/volume';
import { Construct } from 'constructs';
import { StackNames, stackLabels } from './naming';

/** A Docker volume other constructs mount. */
export interface IDataVolume {
  /** The volume name as a Terraform reference: mounting by it also orders creation. */
  readonly name: string;
}

export interface DataVolumeProps {
  readonly names: StackNames;
  /** Docker volume name. */
  readonly name: string;
  /** What the volume holds, as a label value (hub-data, exchange, course). */
  readonly role: string;
  /**
   * Refuse to destroy the volume (Terraform prevent_destroy). The project's destroy command
   * forgets protected volumes instead of deleting them, so data survives a destroy.
   * @default true
   */
  readonly protect?: boolean;
}

/**
 * A named volume that holds data students or instructors care about (hub DB, nbgrader
 * exchange, a course directory). Protected from `destroy` unless purging is asked for.
 */
export class DataVolume extends Construct implements IDataVolume {
  readonly volume: Volume;
  /** The volume name as a Terraform reference: mounting by it also orders creation. */
  readonly name: string;

  constructor(scope: Construct, id: string, props: DataVolumeProps) {
    super(scope, id);
    this.volume = new Volume(this, 'volume', {
      name: props.name,
      labels: stackLabels(props.names, props.role),
      lifecycle: { preventDestroy: props.protect ?? true },
    });
    this.name = this.volume.name;
  }
}
