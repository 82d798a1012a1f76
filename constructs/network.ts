import { Network } from '@cdktf/provider-docker/lib/network';
import { Construct } from 'constructs';
import { StackNames, stackLabels } from './naming';

/** The networks of one environment, by name (Terraform references). */
export interface IStackNetworks {
  /** proxy, hub, graders and user servers */
  readonly usersName: string;
  /** internal: hub <-> proxy API only */
  readonly controlName: string;
  /** Network ids (Terraform references): a swarm service names its networks by id. */
  readonly usersId: string;
  readonly controlId: string;
}

export interface StackNetworksProps {
  readonly names: StackNames;
  /** "overlay" on a swarm (users attachable, so test peers and tools can join it). @default "bridge" */
  readonly driver?: 'bridge' | 'overlay';
}

/**
 * Two user-defined bridges per environment. `users` carries student traffic (proxy, hub,
 * graders, user servers). `control` is internal and joins only the hub and the proxy, whose
 * API listens on the control network alone, so no user container can reach it.
 */
export class StackNetworks extends Construct implements IStackNetworks {
  readonly users: Network;
  readonly control: Network;
  /** Network names as Terraform references (one token each, so using them adds no cost). */
  readonly usersName: string;
  readonly controlName: string;
  readonly usersId: string;
  readonly controlId: string;

  constructor(scope: Construct, id: string, props: StackNetworksProps) {
    super(scope, id);
    const { names } = props;
    const driver = props.driver ?? 'bridge';
    this.users = new Network(this, 'users', {
      name: names.usersNetwork,
      driver,
      ...(driver === 'overlay' ? { attachable: true } : {}),
      labels: stackLabels(names, 'users-network'),
    });
    this.control = new Network(this, 'control', {
      name: names.controlNetwork,
      driver,
      internal: true,
      labels: stackLabels(names, 'control-network'),
    });
    this.usersName = this.users.name;
    this.controlName = this.control.name;
    this.usersId = this.users.id;
    this.controlId = this.control.id;
  }
}
