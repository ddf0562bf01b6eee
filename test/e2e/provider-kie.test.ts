import { describeProvider } from './provider-modes';

describeProvider('kie');
